// The routing half of a request: which rule, which backend, which endpoint, or
// the status the engine answers itself. Table lookups only.
import type { Endpoint, ServiceTarget } from '../state/index.ts';
import type { CompiledBackend, CompiledRule, ServicePortRoutes } from '../tables/index.ts';
import { pick } from './balancer.ts';
import { admit } from './breaker.ts';
import type { Pools, PortPool } from './endpoint-pools.ts';
import { matchRoute, type RouteRequest, routesFor } from './route-match.ts';
import type { L7Source, L7View } from './source.ts';
import type { Spread } from './spread.ts';

/** The request is sent to `ep`; or the engine answers `status` itself. */
export interface Decision {
  status: number;
  /** Why weft answered (RequestRecord.responseFlags); '' when forwarded. */
  flag: string;
  rule: CompiledRule | undefined;
  backend: CompiledBackend | undefined;
  /** `namespace/name` of the Service the endpoint belongs to. */
  service: string | undefined;
  ep: Endpoint | undefined;
  /** The balancer's key: `namespace/name:port` of the backend, or the VIP key without a rule ('' when answered). */
  key: string;
  /** The Service port's balancer state, when an endpoint was picked. */
  pool?: PortPool;
}

// `namespace/name:port` of a backend or a VIP's Service port, made once per table.
const names = new WeakMap<object, string>();

/** A Service port's name, the key of its traffic policy and balancer state. */
export function portKey(o: CompiledBackend | ServicePortRoutes): string {
  let k = names.get(o);
  if (k === undefined) {
    k = `${o.service}:${o.port}`;
    names.set(o, k);
  }
  return k;
}

/** The rule a request takes: undefined when the port has no routes; null when none matches (404). */
export function ruleFor(
  src: L7Source,
  view: L7View,
  req: RouteRequest,
): CompiledRule | undefined | null {
  const spr = view.routes.byVip.get(src.vip);
  if (!spr || routesFor(spr, src.namespace).length === 0) return undefined;
  return matchRoute(spr, src.namespace, req) ?? null;
}

/**
 * The endpoint of the rule's backend (or of the VIP's Service, with no rule) for this
 * request, by the Service port's balancer; 503 `overflow` when its connectionPool is full
 * (`h2`: the upstream speaks HTTP/2).
 */
export function endpointFor(
  pools: Pools,
  spread: Spread,
  src: L7Source,
  view: L7View,
  rule: CompiledRule | undefined,
  h2 = false,
): Decision {
  let key: string;
  let name: string;
  let target: ServiceTarget | undefined;
  let backend: CompiledBackend | undefined;
  if (rule) {
    backend = spread.backend(rule);
    if (!backend) return answer(500, 'no_backend', rule);
    // A backend that does not resolve keeps its weight; the requests it takes get 500.
    if (backend.unresolved)
      return { ...answer(500, 'no_backend', rule), backend, service: backend.service };
    key = portKey(backend);
    name = key;
    target = backend.target;
  } else {
    key = src.vip;
    const spr = view.routes.byVip.get(src.vip);
    name = spr ? portKey(spr) : key;
    target = view.services.get(src.vip);
  }
  if (!target) return answer(503, 'no_healthy_upstream', rule);
  const pool = pools.get(name, view.routes.trafficPolicies?.get(name));
  const eps = src.allowed(view, key, target).endpoints;
  const ep = pick(pool, eps, pool.now(), pools.random, target.preferClose ? src.near : undefined);
  if (!ep) return { ...answer(503, 'no_healthy_upstream', rule), backend, service: target.service };
  if (!admit(pool, h2))
    return { ...answer(503, 'overflow', rule), backend, service: target.service };
  return { status: 0, flag: '', rule, backend, service: target.service, ep, pool, key };
}

export function answer(status: number, flag: string, rule?: CompiledRule): Decision {
  return { status, flag, rule, backend: undefined, service: undefined, ep: undefined, key: '' };
}

/** Another endpoint of the decision's backend for a retry, avoiding `failed` when the pool has another. */
export function pickAgain(
  pools: Pools,
  src: L7Source,
  view: L7View,
  d: Decision,
  failed: Endpoint | undefined,
): Endpoint | undefined {
  const target = d.backend ? d.backend.target : view.services.get(src.vip);
  if (!target || !d.pool) return undefined;
  const all = src.allowed(view, d.key, target).endpoints;
  // A retry is the rare path: a copy without the failed endpoint, when another remains.
  const others = failed ? all.filter((ep) => !sameEndpoint(ep, failed)) : all;
  return pick(
    d.pool,
    others.length > 0 ? others : all,
    d.pool.now(),
    pools.random,
    target.preferClose ? src.near : undefined,
  );
}

/** The same address and port (tables swap objects, so identity is not enough). */
export function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a === b || (a.ip === b.ip && a.port === b.port);
}

/** The `namespace/name:port` a DestinationRule's policy is keyed by, for a forwarded decision. */
export function policyKey(src: L7Source, d: Decision): string {
  return d.backend ? d.key : `${d.service}:${src.port}`;
}

// Per table: `namespace/name:port` → that Service port's endpoints, for mirrors.
const byName = new WeakMap<object, Map<string, ServiceTarget>>();

/** A Service port by name (a RequestMirror's backend), from the VIP-keyed table. */
export function serviceByName(view: L7View, name: string, port: number): ServiceTarget | undefined {
  let m = byName.get(view.services);
  if (!m) {
    m = new Map();
    for (const [k, t] of view.services) {
      const key = `${t.service}:${k.slice(k.lastIndexOf(':') + 1)}`;
      if (!m.has(key)) m.set(key, t);
    }
    byName.set(view.services, m);
  }
  return m.get(`${name}:${port}`);
}
