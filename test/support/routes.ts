// Hand-made route tables for L7 engine tests: CompiledRule objects as the
// route compiler would produce them, without going through manifests.
import type { RouteFilter } from '../../agent/src/state/route-types.ts';
import type { Endpoint } from '../../agent/src/state/service-endpoints.ts';
import type {
  CompiledBackend,
  CompiledMatch,
  CompiledRule,
  CompiledStringMatch,
  PortProtocol,
  ServicePortRoutes,
} from '../../agent/src/tables/routes.ts';

export interface BackendSpec {
  service: string;
  port?: number;
  weight?: number;
  endpoints: readonly Endpoint[];
  filters?: RouteFilter[];
}

export function backend(b: BackendSpec): CompiledBackend {
  return {
    service: b.service,
    // A Service port names one set of endpoints (the balancer and egress view key on it).
    port: b.port ?? b.endpoints[0]?.port ?? 80,
    weight: b.weight ?? 1,
    target: { service: b.service, endpoints: b.endpoints },
    filters: b.filters ?? [],
  };
}

export interface RuleSpec {
  route?: string;
  kind?: 'HTTPRoute' | 'GRPCRoute';
  rule?: number;
  hostnames?: string[];
  path?: string;
  pathType?: CompiledMatch['pathType'];
  method?: string;
  headers?: Record<string, string | RegExp>;
  query?: Record<string, string | RegExp>;
  filters?: RouteFilter[];
  backends?: BackendSpec[];
  timeouts?: { request?: number; backendRequest?: number };
  retry?: CompiledRule['retry'];
  fault?: CompiledRule['fault'];
}

const strings = (o: Record<string, string | RegExp> = {}): CompiledStringMatch[] =>
  Object.entries(o).map(([name, v]) =>
    typeof v === 'string' ? { name, value: v } : { name, value: v.source, regex: v },
  );

export function rule(r: RuleSpec): CompiledRule {
  const backends = (r.backends ?? []).map(backend);
  const pathType = r.pathType ?? 'PathPrefix';
  const path = r.path ?? '/';
  return {
    route: r.route ?? `${r.kind ?? 'HTTPRoute'} shop/route`,
    kind: r.kind ?? 'HTTPRoute',
    rule: r.rule ?? 0,
    hostnames: r.hostnames ?? [],
    match: {
      pathType,
      path,
      ...(pathType === 'RegularExpression' ? { pathRegex: new RegExp(`^(?:${path})$`) } : {}),
      ...(r.method ? { method: r.method } : {}),
      headers: strings(r.headers),
      queryParams: strings(r.query),
    },
    filters: r.filters ?? [],
    backends,
    totalWeight: backends.reduce((s, b) => s + b.weight, 0),
    ...(r.timeouts ? { timeouts: r.timeouts } : {}),
    ...(r.retry ? { retry: r.retry } : {}),
    ...(r.fault ? { fault: r.fault } : {}),
  };
}

export function portRoutes(
  service: string,
  port: number,
  producer: CompiledRule[],
  protocol: PortProtocol = 'http',
  consumers: Record<string, CompiledRule[]> = {},
): ServicePortRoutes {
  return { service, port, protocol, producer, consumers: new Map(Object.entries(consumers)) };
}

/** A header modifier filter. */
export const headerFilter = (
  type: 'RequestHeaderModifier' | 'ResponseHeaderModifier',
  m: { set?: Record<string, string>; add?: Record<string, string>; remove?: string[] },
): RouteFilter => ({
  type,
  modifier: {
    set: Object.entries(m.set ?? {}).map(([name, value]) => ({ name, value })),
    add: Object.entries(m.add ?? {}).map(([name, value]) => ({ name, value })),
    remove: m.remove ?? [],
  },
});
