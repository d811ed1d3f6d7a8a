// Snapshot → the L7 engine's route tables (tables/routes.ts): per Service VIP port its
// protocol, the producer's routes and each consumer namespace's, as (rule, match) pairs
// in the spec's precedence order, regular expressions compiled, backends resolved to the
// Service table's endpoints; and how each endpoint's port is read inbound. Pure.
export { portProtocol } from '../tables/index.ts';

import {
  type BackendRef,
  type ClusterObjects,
  clusterIPsOf,
  type EndpointSlice,
  type GrpcRouteMatch,
  type HeaderMatch,
  type HttpRouteMatch,
  isIPv6,
  parentPorts,
  type Route,
  type RouteRule,
  resolveBackend,
  routeKey,
  type Service,
  serviceEndpoints,
  slicesByService,
} from '../state/index.ts';
import {
  type CompiledBackend,
  type CompiledFault,
  type CompiledMatch,
  type CompiledMirror,
  type CompiledRule,
  type CompiledStringMatch,
  type PortProtocol,
  portProtocol,
  type RouteTables,
  type ServicePortRoutes,
  vipKey,
} from '../tables/index.ts';
import { compileTrafficPolicies } from './traffic-policy.ts';

/** One (rule, match) pair of a route, before ordering. */
interface Pair {
  readonly route: Route;
  readonly rule: number;
  readonly match: number;
  readonly compiled: CompiledMatch;
  /** Sort keys: the spec's precedence, most specific first. */
  readonly keys: readonly number[];
}

const PATH_RANK = { Exact: 0, RegularExpression: 1, PathPrefix: 2 } as const;

/**
 * HTTPRoute precedence: Exact path, then regular expression (the spec leaves its place
 * to implementations; longer first), then the longest PathPrefix; then a method match;
 * then the most header matches; then the most query parameter matches.
 */
export function httpKeys(m: HttpRouteMatch): number[] {
  return [
    PATH_RANK[m.path.type],
    -m.path.value.length,
    m.method ? 0 : 1,
    -m.headers.length,
    -m.queryParams.length,
  ];
}

/** GRPCRoute precedence: the longest service, then the longest method, then the most header matches. */
export function grpcKeys(m: GrpcRouteMatch): number[] {
  return [-(m.method?.service?.length ?? 0), -(m.method?.method?.length ?? 0), -m.headers.length];
}

/** What ordering needs of a pair (the explaining evaluator orders its own alike). */
export interface Ordered {
  readonly route: Route;
  readonly rule: number;
  readonly match: number;
  readonly keys: readonly number[];
}

/** Ties: the oldest route, then `namespace/name` alphabetically, then rule and match order. */
function comparePairs(a: Ordered, b: Ordered): number {
  for (let i = 0; i < a.keys.length; i++)
    if (a.keys[i] !== b.keys[i]) return a.keys[i]! - b.keys[i]!;
  if (a.route.created !== b.route.created) return a.route.created - b.route.created;
  const an = `${a.route.namespace}/${a.route.name}`;
  const bn = `${b.route.namespace}/${b.route.name}`;
  if (an !== bn) return an < bn ? -1 : 1;
  return a.rule - b.rule || a.match - b.match;
}

/** Full-string match, as Envoy and the Gateway API's other implementations run them. */
function anchored(re: string): RegExp {
  return new RegExp(`^(?:${re})$`);
}

function stringMatches(ms: readonly HeaderMatch[]): CompiledStringMatch[] {
  return ms.map((m) =>
    m.type === 'RegularExpression'
      ? { name: m.name, value: m.value, regex: anchored(m.value) }
      : { name: m.name, value: m.value },
  );
}

export function compileHttpMatch(m: HttpRouteMatch): CompiledMatch {
  // A PathPrefix's trailing `/` is ignored, as the spec says: `/foo/` takes `/foo` too.
  const v = m.path.value;
  const path = m.path.type === 'PathPrefix' && v.length > 1 && v.endsWith('/') ? v.slice(0, -1) : v;
  return {
    pathType: m.path.type,
    path,
    ...(m.path.type === 'RegularExpression' ? { pathRegex: anchored(v) } : {}),
    ...(m.method ? { method: m.method } : {}),
    headers: stringMatches(m.headers),
    queryParams: stringMatches(m.queryParams),
  };
}

/** A gRPC method match as the `/service/method` path it stands for. */
export function compileGrpcMatch(m: GrpcRouteMatch): CompiledMatch {
  const headers = stringMatches(m.headers);
  const mm = m.method;
  const base = { headers, queryParams: [] };
  if (!mm) return { pathType: 'PathPrefix', path: '/', ...base };
  if (mm.type === 'Exact' && mm.service && mm.method)
    return { pathType: 'Exact', path: `/${mm.service}/${mm.method}`, ...base };
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const svc = mm.service ? (mm.type === 'Exact' ? esc(mm.service) : mm.service) : '[^/]+';
  const meth = mm.method ? (mm.type === 'Exact' ? esc(mm.method) : mm.method) : '[^/]+';
  // Exactly two segments, whatever the service's and method's own expressions would take.
  const src = `(?=/[^/]+/[^/]+$)/(?:${svc})/(?:${meth})`;
  return { pathType: 'RegularExpression', path: src, pathRegex: anchored(src), ...base };
}

/** Every (rule, match) pair of a route, compiled once and shared by every VIP it binds. */
function routePairs(route: Route): Pair[] {
  const out: Pair[] = [];
  if (route.kind === 'HTTPRoute') {
    route.rules.forEach((rule, ri) => {
      rule.matches.forEach((m, mi) => {
        out.push({ route, rule: ri, match: mi, compiled: compileHttpMatch(m), keys: httpKeys(m) });
      });
    });
  } else {
    route.rules.forEach((rule, ri) => {
      rule.matches.forEach((m, mi) => {
        out.push({ route, rule: ri, match: mi, compiled: compileGrpcMatch(m), keys: grpcKeys(m) });
      });
    });
  }
  return out;
}

/** Orders a port's pairs: each kind by its own precedence; on a gRPC port GRPCRoutes first, else HTTPRoutes. */
export function orderPairs<P extends Ordered>(pairs: readonly P[], protocol: PortProtocol): P[] {
  const http = pairs.filter((p) => p.route.kind === 'HTTPRoute').sort(comparePairs);
  const grpc = pairs.filter((p) => p.route.kind === 'GRPCRoute').sort(comparePairs);
  return protocol === 'grpc' ? [...grpc, ...http] : [...http, ...grpc];
}

interface Ctx {
  readonly objects: ClusterObjects;
  readonly slices: Map<string, EndpointSlice[]>;
  /** Endpoints by `service:port:vip`: many rules name the same backend; each is read once. */
  readonly endpoints: Map<string, CompiledBackend['target']>;
}

/** The backend Service's ClusterIP of the parent VIP's family, else its first. */
function vipFor(svc: Service, parentVip: string): string {
  const ips = clusterIPsOf(svc);
  return ips.find((ip) => isIPv6(ip) === isIPv6(parentVip)) ?? ips[0] ?? parentVip;
}

function backendTarget(
  ctx: Ctx,
  route: Route,
  ref: { namespace: string; name: string; port?: number },
  parentVip: string,
): Pick<CompiledBackend, 'service' | 'port' | 'target' | 'unresolved'> {
  const service = `${ref.namespace}/${ref.name}`;
  const port = ref.port ?? 0;
  const r = resolveBackend(ctx.objects, route, ref);
  if ('unresolved' in r)
    return { service, port, target: { service, endpoints: [] }, unresolved: r.unresolved };
  const vip = vipFor(r.service, parentVip);
  const key = `${service}:${port}:${vip}`;
  let target = ctx.endpoints.get(key);
  if (!target) {
    const endpoints = serviceEndpoints(
      ctx.objects,
      r.service,
      r.port,
      ctx.slices.get(service) ?? [],
      vip,
    );
    target = {
      service,
      endpoints,
      ...(r.service.trafficDistribution ? { preferClose: true } : {}),
    };
    ctx.endpoints.set(key, target);
  }
  return { service, port, target };
}

function compileRule(ctx: Ctx, pair: Pair, parentVip: string): CompiledRule {
  const route = pair.route;
  const rule = (route.rules as readonly RouteRule<unknown>[])[pair.rule]!;
  const backends: CompiledBackend[] = rule.backendRefs.map((b: BackendRef) => ({
    ...backendTarget(ctx, route, b, parentVip),
    weight: b.weight,
    filters: b.filters,
  }));
  const mirrors: CompiledMirror[] = [];
  let fault: CompiledFault | undefined;
  for (const f of rule.filters)
    if (f.type === 'RequestMirror')
      mirrors.push({ ...backendTarget(ctx, route, f.backend, parentVip), percent: f.percent });
    else if (f.type === 'ExtensionRef') fault = compileFault(ctx.objects, route.namespace, f.name);
  return {
    route: routeKey(route),
    kind: route.kind,
    rule: pair.rule,
    ...(rule.name ? { ruleName: rule.name } : {}),
    hostnames: route.hostnames,
    match: pair.compiled,
    filters: rule.filters,
    backends,
    totalWeight: backends.reduce((n, b) => n + b.weight, 0),
    ...(rule.timeouts ? { timeouts: rule.timeouts } : {}),
    ...(rule.retry ? { retry: rule.retry } : {}),
    ...(fault ? { fault } : {}),
    ...(mirrors.length ? { mirrors } : {}),
  };
}

/** The HTTPFault a rule names, from the snapshot; missing when there is none (the rule answers 500). */
export function compileFault(objects: ClusterObjects, ns: string, name: string): CompiledFault {
  const key = `${ns}/${name}`;
  const f = objects.httpFaults?.get(key);
  if (!f) return { name: key, missing: true };
  return {
    name: key,
    ...(f.delay ? { delay: f.delay } : {}),
    ...(f.abort ? { abort: f.abort } : {}),
  };
}

/** Routes bound to each Service port: `namespace/name:port` → the routes, each once. */
export function routesByServicePort(objects: ClusterObjects): Map<string, Route[]> {
  const out = new Map<string, Route[]>();
  for (const route of objects.routes?.values() ?? []) {
    const seen = new Set<string>();
    for (const ref of route.parentRefs) {
      const p = parentPorts(objects, ref);
      if ('reason' in p) continue;
      for (const sp of p.ports) {
        const key = `${ref.namespace}/${ref.name}:${sp.port}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.set(key, [...(out.get(key) ?? []), route]);
      }
    }
  }
  return out;
}

export function compileRoutes(objects: ClusterObjects): RouteTables {
  const ctx: Ctx = { objects, slices: slicesByService(objects), endpoints: new Map() };
  const bound = routesByServicePort(objects);
  const pairsOf = new Map<Route, Pair[]>();
  const pairs = (r: Route) => {
    const had = pairsOf.get(r);
    if (had) return had;
    const p = routePairs(r);
    pairsOf.set(r, p);
    return p;
  };
  const byVip = new Map<string, ServicePortRoutes>();
  const inboundProtocol = new Map<string, PortProtocol>();
  const services = [...objects.services.values()].sort((a, b) =>
    `${a.namespace}/${a.name}` < `${b.namespace}/${b.name}` ? -1 : 1,
  );
  for (const svc of services) {
    const key = `${svc.namespace}/${svc.name}`;
    for (const sp of svc.ports) {
      if (sp.protocol !== 'TCP') continue;
      const protocol = portProtocol(sp);
      const routes = bound.get(`${key}:${sp.port}`) ?? [];
      // Producer routes live in the Service's namespace; any other namespace's are its clients' own.
      const producer = orderPairs(
        routes.filter((r) => r.namespace === svc.namespace).flatMap(pairs),
        protocol,
      );
      const consumerNs = [
        ...new Set(routes.filter((r) => r.namespace !== svc.namespace).map((r) => r.namespace)),
      ].sort();
      for (const vip of clusterIPsOf(svc)) {
        if (protocol !== 'tcp') {
          for (const e of serviceEndpoints(objects, svc, sp, ctx.slices.get(key) ?? [], vip)) {
            const k = vipKey(e.ip, e.port);
            if (!inboundProtocol.has(k)) inboundProtocol.set(k, protocol);
          }
        }
        if (protocol === 'tcp' && routes.length === 0) continue;
        const consumers = new Map<string, readonly CompiledRule[]>();
        for (const ns of consumerNs) {
          const own = orderPairs(routes.filter((r) => r.namespace === ns).flatMap(pairs), protocol);
          consumers.set(
            ns,
            own.map((p) => compileRule(ctx, p, vip)),
          );
        }
        byVip.set(vipKey(vip, sp.port), {
          service: key,
          port: sp.port,
          protocol,
          producer: producer.map((p) => compileRule(ctx, p, vip)),
          consumers,
        });
      }
    }
  }
  return { byVip, inboundProtocol, trafficPolicies: compileTrafficPolicies(objects) };
}
