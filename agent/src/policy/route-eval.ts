// The explaining evaluator of Gateway API routes: for one request to a Service port,
// which routes apply (the client namespace's own, else the producer's), every (rule,
// match) pair in the spec's precedence order with why it did or did not take the request,
// the filters of the rule that did, each backend with its weight and endpoint pool. It
// reads the routes from the snapshot and orders and matches them itself: a property test
// holds it to the route tables' lookup (l7/route-match.ts). Pure; not on the request path.

import { serviceHost } from '../config/index.ts';
import {
  type ClusterObjects,
  clusterIPsOf,
  type Endpoint,
  type GrpcRouteMatch,
  type HeaderMatch,
  type HttpRouteMatch,
  isIPv6,
  type PathModifier,
  parentPorts,
  type Route,
  type RouteFilter,
  type RouteRetry,
  type RouteTimeouts,
  resolveBackend,
  routeKey,
  type Service,
  serviceEndpoints,
} from '../state/index.ts';
import { type PortProtocol, portProtocol } from '../tables/index.ts';

export interface RouteEvalRequest {
  /** Upper case. */
  readonly method: string;
  /** The request target's path, possibly with `?query`. */
  readonly path: string;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  /** Host without port; the Service's DNS name when absent. */
  readonly host?: string;
}

export interface RouteEvalInput {
  readonly cluster: ClusterObjects;
  /** `namespace/name` of the Service. */
  readonly service: string;
  readonly port: number;
  readonly clientNamespace: string;
  readonly request: RouteEvalRequest;
  /** Which ClusterIP the client dialled (its family picks the endpoints); the first when absent. */
  readonly vip?: string;
}

export interface CandidateVerdict {
  /** `Kind namespace/name` */
  readonly route: string;
  readonly rule: number;
  readonly ruleName?: string;
  readonly match: number;
  readonly matched: boolean;
  /** Why it matched, or the first condition that failed, or that an earlier pair took the request. */
  readonly reason: string;
}

export interface BackendVerdict {
  readonly service: string;
  readonly port: number;
  readonly weight: number;
  /** Share of the rule's requests, 0–100. */
  readonly percent: number;
  readonly unresolved?: 'BackendNotFound' | 'RefNotPermitted';
  readonly reason: string;
  readonly endpoints: readonly Endpoint[];
  readonly filters: readonly RouteFilter[];
}

export type RouteOutcome =
  /** No route binds the port: the request goes to the Service's own endpoints. */
  | 'no-routes'
  /** Routes bind the port and none matched: 404. */
  | 'not-found'
  /** A RequestRedirect answers it. */
  | 'redirect'
  /** The rule has no backends, or all weight 0: 500. */
  | 'no-backends'
  | 'backends';

export interface RouteExplanation {
  readonly service: string;
  readonly port: number;
  readonly protocol: PortProtocol;
  readonly outcome: RouteOutcome;
  /** Which set of routes applies, and why. */
  readonly applies: string;
  readonly candidates: readonly CandidateVerdict[];
  readonly matched?: CandidateVerdict & { readonly kind: Route['kind'] };
  readonly filters: readonly RouteFilter[];
  readonly backends: readonly BackendVerdict[];
  readonly redirect?: { readonly status: number; readonly location: string };
  /** The matched rule's timeouts and retry policy. */
  readonly timeouts?: RouteTimeouts;
  readonly retry?: RouteRetry;
  /** The request as the backend receives it, after URLRewrite and RequestHeaderModifier. */
  readonly forwarded?: {
    readonly path: string;
    readonly host: string;
    readonly headers: Readonly<Record<string, string>>;
  };
}

interface Candidate {
  readonly route: Route;
  readonly rule: number;
  readonly match: number;
  readonly http?: HttpRouteMatch;
  readonly grpc?: GrpcRouteMatch;
}

/** The spec's precedence between two HTTPRoute matches: negative when `a` goes first. */
function httpOrder(a: HttpRouteMatch, b: HttpRouteMatch): number {
  const rank = (m: HttpRouteMatch) =>
    m.path.type === 'Exact' ? 0 : m.path.type === 'RegularExpression' ? 1 : 2;
  if (rank(a) !== rank(b)) return rank(a) - rank(b);
  if (a.path.value.length !== b.path.value.length) return b.path.value.length - a.path.value.length;
  if (!!a.method !== !!b.method) return a.method ? -1 : 1;
  if (a.headers.length !== b.headers.length) return b.headers.length - a.headers.length;
  return b.queryParams.length - a.queryParams.length;
}

function grpcOrder(a: GrpcRouteMatch, b: GrpcRouteMatch): number {
  const s = (m: GrpcRouteMatch) => m.method?.service?.length ?? 0;
  const me = (m: GrpcRouteMatch) => m.method?.method?.length ?? 0;
  if (s(a) !== s(b)) return s(b) - s(a);
  if (me(a) !== me(b)) return me(b) - me(a);
  return b.headers.length - a.headers.length;
}

function tieBreak(a: Candidate, b: Candidate): number {
  if (a.route.created !== b.route.created) return a.route.created - b.route.created;
  const an = `${a.route.namespace}/${a.route.name}`;
  const bn = `${b.route.namespace}/${b.route.name}`;
  if (an !== bn) return an < bn ? -1 : 1;
  return a.rule !== b.rule ? a.rule - b.rule : a.match - b.match;
}

/** Every (rule, match) pair of the routes, in the order the spec gives them. */
export function orderedCandidates(routes: readonly Route[], protocol: PortProtocol): Candidate[] {
  const http: Candidate[] = [];
  const grpc: Candidate[] = [];
  for (const route of routes) {
    route.rules.forEach((rule, ri) => {
      rule.matches.forEach((m, mi) => {
        if (route.kind === 'HTTPRoute')
          http.push({ route, rule: ri, match: mi, http: m as HttpRouteMatch });
        else grpc.push({ route, rule: ri, match: mi, grpc: m as GrpcRouteMatch });
      });
    });
  }
  http.sort((a, b) => httpOrder(a.http!, b.http!) || tieBreak(a, b));
  grpc.sort((a, b) => grpcOrder(a.grpc!, b.grpc!) || tieBreak(a, b));
  return protocol === 'grpc' ? [...grpc, ...http] : [...http, ...grpc];
}

const full = (re: string, s: string) => new RegExp(`^(?:${re})$`).test(s);

function hostProblem(route: Route, host: string): string | undefined {
  if (route.hostnames.length === 0) return undefined;
  for (const h of route.hostnames) {
    if (h === host) return undefined;
    if (h.startsWith('*.') && host.endsWith(h.slice(1)) && host.length > h.length - 1)
      return undefined;
  }
  return `host ${host} is none of ${route.hostnames.join(', ')}`;
}

function headerProblem(
  ms: readonly HeaderMatch[],
  get: (n: string) => string | null,
  what: string,
) {
  for (const m of ms) {
    const v = get(m.name);
    if (v === null) return `no ${what} ${m.name}`;
    const ok = m.type === 'RegularExpression' ? full(m.value, v) : v === m.value;
    if (!ok)
      return `${what} ${m.name} is ${JSON.stringify(v)}, the match wants ${m.type === 'RegularExpression' ? `/${m.value}/` : JSON.stringify(m.value)}`;
  }
  return undefined;
}

function pathProblem(
  type: 'Exact' | 'PathPrefix' | 'RegularExpression',
  value: string,
  path: string,
) {
  if (type === 'Exact') return path === value ? undefined : `path ${path} is not exactly ${value}`;
  if (type === 'RegularExpression')
    return full(value, path) ? undefined : `path ${path} does not match /${value}/`;
  // Whole segments: `/foo` takes `/foo` and `/foo/bar`, never `/foobar`.
  const p = value.endsWith('/') && value !== '/' ? value.slice(0, -1) : value;
  if (p === '/' || path === p || path.startsWith(`${p}/`)) return undefined;
  return `path ${path} is not under the prefix ${value}`;
}

function describeHttp(m: HttpRouteMatch): string {
  const parts = [`${m.path.type} ${m.path.value}`];
  if (m.method) parts.push(m.method);
  if (m.headers.length) parts.push(`${m.headers.length} header(s)`);
  if (m.queryParams.length) parts.push(`${m.queryParams.length} query parameter(s)`);
  return parts.join(', ');
}

function problem(
  c: Candidate,
  req: Required<RouteEvalRequest>,
  path: string,
  query: URLSearchParams,
) {
  const hp = hostProblem(c.route, req.host);
  if (hp) return hp;
  const header = (n: string) => req.headers[n] ?? null;
  if (c.http) {
    const m = c.http;
    if (m.method && m.method !== req.method)
      return `method ${req.method}, the match wants ${m.method}`;
    return (
      pathProblem(m.path.type, m.path.value, path) ??
      headerProblem(m.headers, header, 'header') ??
      headerProblem(m.queryParams, (n) => query.get(n), 'query parameter')
    );
  }
  const mm = c.grpc!.method;
  if (mm) {
    const [, svc, meth, rest] = path.split('/');
    if (svc === undefined || meth === undefined || rest !== undefined)
      return `path ${path} is not /service/method`;
    const one = (want: string | undefined, got: string, what: string) => {
      if (want === undefined) return undefined;
      const ok = mm.type === 'RegularExpression' ? full(want, got) : want === got;
      return ok
        ? undefined
        : `gRPC ${what} ${got}, the match wants ${mm.type === 'Exact' ? want : `/${want}/`}`;
    };
    const p = one(mm.service, svc, 'service') ?? one(mm.method, meth, 'method');
    if (p) return p;
  }
  return headerProblem(c.grpc!.headers, header, 'header');
}

/** The routes a client namespace sees on a Service port: its own (consumer), else the producer's. */
export function routesOnPort(
  cluster: ClusterObjects,
  service: Service,
  port: number,
  clientNamespace: string,
): { routes: Route[]; applies: string } {
  const bound: Route[] = [];
  for (const r of cluster.routes?.values() ?? []) {
    const hit = r.parentRefs.some((ref) => {
      if (ref.namespace !== service.namespace || ref.name !== service.name) return false;
      const p = parentPorts(cluster, ref);
      return !('reason' in p) && p.ports.some((sp) => sp.port === port);
    });
    if (hit) bound.push(r);
  }
  const key = `${service.namespace}/${service.name}`;
  const own = bound.filter(
    (r) => r.namespace === clientNamespace && r.namespace !== service.namespace,
  );
  if (own.length > 0)
    return {
      routes: own,
      applies: `${own.length} consumer route(s) of ${clientNamespace} for ${key}: they take precedence for its clients`,
    };
  const producer = bound.filter((r) => r.namespace === service.namespace);
  const others = bound.length - producer.length;
  return {
    routes: producer,
    applies: `${producer.length} producer route(s) of ${service.namespace}${others ? ` (${others} consumer route(s) of other namespaces do not apply to clients in ${clientNamespace})` : ''}`,
  };
}

function modified(headers: Record<string, string>, f: RouteFilter | undefined): void {
  if (!f || (f.type !== 'RequestHeaderModifier' && f.type !== 'ResponseHeaderModifier')) return;
  for (const { name, value } of f.modifier.set) headers[name] = value;
  for (const { name, value } of f.modifier.add)
    headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
  for (const name of f.modifier.remove) delete headers[name];
}

function rewritePath(
  mod: PathModifier | undefined,
  path: string,
  prefix: string | undefined,
): string {
  if (!mod) return path;
  if (mod.type === 'ReplaceFullPath') return mod.value;
  const p = prefix && prefix !== '/' ? prefix.replace(/\/$/, '') : '';
  const rest = path.slice(p.length);
  const base = mod.value.replace(/\/$/, '');
  const out = `${base}${rest}`;
  return out === '' ? '/' : out.startsWith('/') ? out : `/${out}`;
}

export function evaluateRoutes(input: RouteEvalInput): RouteExplanation | { error: string } {
  const svc = input.cluster.services.get(input.service);
  if (!svc) return { error: `no Service ${input.service}` };
  const sp = svc.ports.find((p) => p.port === input.port && p.protocol === 'TCP');
  if (!sp) return { error: `Service ${input.service} has no TCP port ${input.port}` };
  const protocol = portProtocol(sp);
  const vip = input.vip ?? clusterIPsOf(svc)[0] ?? '';
  const [pathOnly, q = ''] = splitTarget(input.request.path);
  const req: Required<RouteEvalRequest> = {
    method: input.request.method.toUpperCase(),
    path: pathOnly,
    headers: input.request.headers,
    host: (input.request.host ?? serviceHost(svc.name, svc.namespace))
      .toLowerCase()
      .replace(/:\d+$/, ''),
  };
  const { routes, applies } = routesOnPort(input.cluster, svc, input.port, input.clientNamespace);
  const base = {
    service: input.service,
    port: input.port,
    protocol,
    applies,
    filters: [],
    backends: [],
  };
  if (routes.length === 0) return { ...base, outcome: 'no-routes', candidates: [] };
  const query = new URLSearchParams(q);
  const candidates: CandidateVerdict[] = [];
  let won: Candidate | undefined;
  for (const c of orderedCandidates(routes, protocol)) {
    const rule = c.route.rules[c.rule]!;
    const id = {
      route: routeKey(c.route),
      rule: c.rule,
      ...(rule.name ? { ruleName: rule.name } : {}),
      match: c.match,
    };
    if (won) {
      candidates.push({
        ...id,
        matched: false,
        reason: 'an earlier match in precedence order took the request',
      });
      continue;
    }
    const p = problem(c, req, pathOnly, query);
    if (p) candidates.push({ ...id, matched: false, reason: p });
    else {
      won = c;
      candidates.push({
        ...id,
        matched: true,
        reason: c.http ? `matches ${describeHttp(c.http)}` : 'matches',
      });
    }
  }
  if (!won) return { ...base, outcome: 'not-found', candidates };
  const rule = won.route.rules[won.rule]!;
  const matched = { ...candidates.find((c) => c.matched)!, kind: won.route.kind };
  const filters = rule.filters;
  const prefix = won.http?.path.type === 'PathPrefix' ? won.http.path.value : undefined;
  const redirect = filters.find((f) => f.type === 'RequestRedirect');
  if (redirect?.type === 'RequestRedirect') {
    const scheme = redirect.scheme ?? 'http';
    const host = redirect.hostname ?? req.host;
    const port = redirect.port ? `:${redirect.port}` : '';
    const path = rewritePath(redirect.path, pathOnly, prefix);
    return {
      ...base,
      outcome: 'redirect',
      candidates,
      matched,
      filters,
      redirect: {
        status: redirect.statusCode,
        location: `${scheme}://${host}${port}${path}${q ? `?${q}` : ''}`,
      },
    };
  }
  const total = rule.backendRefs.reduce((n, b) => n + b.weight, 0);
  const backends: BackendVerdict[] = rule.backendRefs.map((b) => {
    const r = resolveBackend(input.cluster, won!.route, b);
    const service = `${b.namespace}/${b.name}`;
    const common = {
      service,
      port: b.port ?? 0,
      weight: b.weight,
      percent: total > 0 ? (100 * b.weight) / total : 0,
      filters: b.filters,
    };
    if ('unresolved' in r)
      return {
        ...common,
        unresolved: r.unresolved,
        reason: `${r.message}: requests picked for it are answered 500`,
        endpoints: [],
      };
    const ips = clusterIPsOf(r.service);
    const family = ips.find((ip) => isIPv6(ip) === isIPv6(vip)) ?? ips[0] ?? vip;
    const endpoints = serviceEndpoints(input.cluster, r.service, r.port, undefined, family);
    return {
      ...common,
      reason:
        b.weight === 0
          ? 'weight 0: takes no requests'
          : endpoints.length === 0
            ? 'no ready endpoint: requests picked for it are answered 503'
            : `${endpoints.length} ready endpoint(s), balanced per request`,
      endpoints,
    };
  });
  const headers: Record<string, string> = { ...req.headers };
  modified(
    headers,
    filters.find((f) => f.type === 'RequestHeaderModifier'),
  );
  const rewrite = filters.find((f) => f.type === 'URLRewrite');
  const forwarded = {
    path: `${rewrite?.type === 'URLRewrite' ? rewritePath(rewrite.path, pathOnly, prefix) : pathOnly}${q ? `?${q}` : ''}`,
    host: rewrite?.type === 'URLRewrite' && rewrite.hostname ? rewrite.hostname : req.host,
    headers,
  };
  return {
    ...base,
    outcome: total > 0 ? 'backends' : 'no-backends',
    candidates,
    matched,
    filters,
    backends,
    forwarded,
    ...(rule.timeouts ? { timeouts: rule.timeouts } : {}),
    ...(rule.retry ? { retry: rule.retry } : {}),
  };
}

function splitTarget(target: string): [string, string?] {
  const i = target.indexOf('?');
  return i < 0 ? [target] : [target.slice(0, i), target.slice(i + 1)];
}
