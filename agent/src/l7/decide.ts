// The routing half of a request: which rule, which backend, which endpoint, or
// the status the engine answers itself. Table lookups only.
import type { Endpoint, ServiceTarget } from '../state/index.ts';
import type { CompiledBackend, CompiledRule } from '../tables/index.ts';
import type { Balancer } from './balancer.ts';
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

/** The endpoint of the rule's backend (or of the VIP's Service, with no rule) for this request. */
export function endpointFor(
  balancer: Balancer,
  spread: Spread,
  src: L7Source,
  view: L7View,
  rule: CompiledRule | undefined,
): Decision {
  let key: string;
  let target: ServiceTarget | undefined;
  let backend: CompiledBackend | undefined;
  if (rule) {
    backend = spread.backend(rule);
    if (!backend) return answer(500, 'no_backend', rule);
    // A backend that does not resolve keeps its weight; the requests it takes get 500.
    if (backend.unresolved)
      return { ...answer(500, 'no_backend', rule), backend, service: backend.service };
    key = `${backend.service}:${backend.port}`;
    target = backend.target;
  } else {
    key = src.vip;
    target = view.services.get(src.vip);
  }
  if (!target) return answer(503, 'no_healthy_upstream', rule);
  const ep = balancer.pick(key, src.allowed(view, key, target).endpoints);
  if (!ep) return { ...answer(503, 'no_healthy_upstream', rule), backend, service: target.service };
  return { status: 0, flag: '', rule, backend, service: target.service, ep, key };
}

export function answer(status: number, flag: string, rule?: CompiledRule): Decision {
  return { status, flag, rule, backend: undefined, service: undefined, ep: undefined, key: '' };
}

/** Another endpoint of the decision's backend for a retry, avoiding `failed` when the pool has another. */
export function pickAgain(
  balancer: Balancer,
  src: L7Source,
  view: L7View,
  d: Decision,
  failed: Endpoint | undefined,
): Endpoint | undefined {
  const target = d.backend ? d.backend.target : view.services.get(src.vip);
  if (!target) return undefined;
  return balancer.pick(d.key, src.allowed(view, d.key, target).endpoints, failed);
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
