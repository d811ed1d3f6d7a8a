// For seeded random routes and requests, the route tables' lookup (compileRoutes, then
// matchRoute: what the engine runs per request) and the explaining evaluator
// (policy/route-eval.ts: what `weft policy trace --http` says) pick the same route, rule
// and backends. They are written apart: ordering and matching each have two implementations.
import { describe, expect, it } from 'vitest';
import { compileRoutes } from '../../../agent/src/compile/routes.ts';
import { matchRoute } from '../../../agent/src/l7/route-match.ts';
import { evaluateRoutes } from '../../../agent/src/policy/route-eval.ts';
import type {
  BackendRef,
  GrpcRouteMatch,
  HeaderMatch,
  HttpRouteMatch,
  ReferenceGrant,
  Route,
  RouteRule,
} from '../../../agent/src/state/route-types.ts';
import type { Pod, Service, Snapshot } from '../../../agent/src/state/types.ts';

function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick, chance: (p: number) => next() < p };
}
type Rng = ReturnType<typeof rng>;

const PATHS = ['/', '/a', '/a/', '/a/b', '/b', '/ab'];
const REGEXES = ['/a/.*', '/[ab]+', '/a/b|/b', '/.*'];
const REQUEST_PATHS = [
  '/',
  '/a',
  '/a/',
  '/a/b',
  '/a/b/c',
  '/ab',
  '/abc',
  '/b',
  '/pkg.Svc/Get',
  '/pkg.Other/Put',
  '/pkg.Svc/Get/x',
  '/x',
];

function headerMatches(r: Rng, names: readonly string[]): HeaderMatch[] {
  const out: HeaderMatch[] = [];
  for (const name of names)
    if (r.chance(0.3))
      out.push(
        r.chance(0.3)
          ? { type: 'RegularExpression', name, value: '[12]' }
          : { type: 'Exact', name, value: r.pick(['1', '2']) },
      );
  return out;
}

function httpMatch(r: Rng): HttpRouteMatch {
  const type = r.pick(['Exact', 'PathPrefix', 'PathPrefix', 'RegularExpression'] as const);
  return {
    path: { type, value: type === 'RegularExpression' ? r.pick(REGEXES) : r.pick(PATHS) },
    headers: headerMatches(r, ['x', 'y']),
    queryParams: headerMatches(r, ['q']),
    ...(r.chance(0.3) ? { method: r.pick(['GET', 'POST']) } : {}),
  };
}

function grpcMatch(r: Rng): GrpcRouteMatch {
  const headers = headerMatches(r, ['x']);
  if (r.chance(0.2)) return { headers };
  const regex = r.chance(0.3);
  const service = r.chance(0.7)
    ? regex
      ? r.pick(['pkg\\..*', 'pkg\\.Svc'])
      : r.pick(['pkg.Svc', 'pkg.Other'])
    : undefined;
  const method =
    !service || r.chance(0.5)
      ? regex
        ? r.pick(['G.*', 'Put'])
        : r.pick(['Get', 'Put'])
      : undefined;
  return {
    method: {
      type: regex ? 'RegularExpression' : 'Exact',
      ...(service ? { service } : {}),
      ...(method ? { method } : {}),
    },
    headers,
  };
}

function backends(r: Rng, routeNs: string): BackendRef[] {
  const out: BackendRef[] = [];
  for (let i = r.int(4); i > 0; i--)
    out.push({
      namespace: r.chance(0.7) ? 'shop' : routeNs,
      name: r.pick(['cart', 'v1', 'v2', 'missing']),
      port: r.pick([80, 80, 81]),
      weight: r.int(4),
      filters: [],
    });
  return out;
}

function route(r: Rng, i: number): Route {
  const namespace = r.chance(0.6) ? 'shop' : r.pick(['web', 'web2']);
  const base = {
    namespace,
    name: r.pick(['a', 'b', 'c']) + i,
    created: r.pick([0, 1000, 2000]),
    generation: 1,
    parentRefs: [
      { namespace: 'shop', name: 'cart', ...(r.chance(0.2) ? { port: r.pick([80, 81]) } : {}) },
    ],
    hostnames: r.chance(0.2)
      ? [r.pick(['cart.shop.svc.cluster.local', '*.example.com', 'other.test'])]
      : [],
  };
  const n = 1 + r.int(3);
  if (r.chance(0.7)) {
    const rules: RouteRule<HttpRouteMatch>[] = [];
    for (let k = 0; k < n; k++)
      rules.push({
        matches: Array.from({ length: 1 + r.int(3) }, () => httpMatch(r)),
        filters: [],
        backendRefs: backends(r, namespace),
      });
    return { kind: 'HTTPRoute', ...base, rules };
  }
  const rules: RouteRule<GrpcRouteMatch>[] = [];
  for (let k = 0; k < n; k++)
    rules.push({
      matches: Array.from({ length: 1 + r.int(2) }, () => grpcMatch(r)),
      filters: [],
      backendRefs: backends(r, namespace),
    });
  return { kind: 'GRPCRoute', ...base, rules };
}

function world(r: Rng): Snapshot {
  const svc = (name: string, ip: string, portName: string): Service => ({
    namespace: 'shop',
    name,
    selector: { app: name },
    ports: [{ name: portName, port: 80, targetPort: 8080, protocol: 'TCP' }],
    clusterIP: ip,
  });
  const pod = (name: string, app: string, ip: string): Pod => ({
    namespace: 'shop',
    name,
    labels: { app },
    annotations: {},
    serviceAccountName: 'default',
    nodeName: 'n1',
    ports: [],
    podIP: ip,
  });
  const services = [
    svc('cart', '10.96.0.10', r.pick(['http', 'grpc'])),
    svc('v1', '10.96.0.11', 'http'),
    svc('v2', '10.96.0.12', 'http'),
  ];
  const pods = [
    pod('cart-0', 'cart', '10.0.0.1'),
    pod('v1-0', 'v1', '10.0.0.2'),
    pod('v1-1', 'v1', '10.0.0.3'),
  ];
  const routes = Array.from({ length: 1 + r.int(4) }, (_, i) => route(r, i));
  const grants: ReferenceGrant[] = r.chance(0.5)
    ? [
        {
          namespace: 'shop',
          name: 'g',
          from: [{ kind: 'HTTPRoute', namespace: 'web' }],
          to: [{ name: 'v1' }],
        },
      ]
    : [];
  return {
    version: 1,
    namespaces: new Map(),
    pods: new Map(pods.map((p) => [`shop/${p.name}`, p])),
    services: new Map(services.map((s) => [`shop/${s.name}`, s])),
    routes: new Map(routes.map((x) => [`${x.kind} ${x.namespace}/${x.name}`, x])),
    referenceGrants: new Map(grants.map((g) => [`shop/${g.name}`, g])),
  };
}

describe('route tables and the explaining evaluator', () => {
  it('agree on the rule and the backends for 300 random route sets, 30 requests each', () => {
    let matched = 0;
    let unmatched = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const r = rng(seed);
      const snap = world(r);
      const table = compileRoutes(snap).byVip.get('10.96.0.10:80');
      for (let q = 0; q < 30; q++) {
        const headers: Record<string, string> = {};
        for (const h of ['x', 'y']) if (r.chance(0.5)) headers[h] = r.pick(['1', '2', '3']);
        const query = r.chance(0.5) ? `q=${r.pick(['1', '2', '3'])}` : '';
        const path = r.pick(REQUEST_PATHS);
        const method = r.pick(['GET', 'POST']);
        const host = r.pick(['cart.shop.svc.cluster.local', 'a.example.com', 'other.test']);
        const client = r.pick(['shop', 'web', 'web2', 'other']);
        const got = table
          ? matchRoute(table, client, { method, path, query, host, headers })
          : undefined;
        const e = evaluateRoutes({
          cluster: snap,
          service: 'shop/cart',
          port: 80,
          clientNamespace: client,
          request: { method, path: query ? `${path}?${query}` : path, headers, host },
        });
        if ('error' in e) throw new Error(e.error);
        const ctx = `seed ${seed} request ${q}: ${client} ${method} ${path}?${query} ${host} ${JSON.stringify(headers)}`;
        const want = e.matched ? `${e.matched.route} rule ${e.matched.rule}` : 'none';
        expect(got ? `${got.route} rule ${got.rule}` : 'none', ctx).toBe(want);
        if (!got) {
          unmatched++;
          continue;
        }
        matched++;
        expect(
          got.backends.map((b) => [
            b.service,
            b.port,
            b.weight,
            b.unresolved ?? '',
            b.target.endpoints.map((x) => x.ip).join(),
          ]),
          ctx,
        ).toEqual(
          e.backends.map((b) => [
            b.service,
            b.port,
            b.weight,
            b.unresolved ?? '',
            b.endpoints.map((x) => x.ip).join(),
          ]),
        );
      }
    }
    // Both outcomes are well represented.
    expect(matched).toBeGreaterThan(1500);
    expect(unmatched).toBeGreaterThan(1500);
  });
});
