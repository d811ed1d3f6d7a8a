// The route compiler: protocols, producer and consumer routes, the spec's precedence,
// backends resolved (ReferenceGrant across namespaces), weights, and the status conditions.
import { describe, expect, it } from 'vitest';
import { routeStatuses } from '../../../agent/src/compile/route-status.ts';
import { compileRoutes, portProtocol } from '../../../agent/src/compile/routes.ts';
import { matchRoute, pickBackend, type RouteRequest } from '../../../agent/src/l7/route-match.ts';
import { cluster, httpRoute, service } from './route-fixtures.ts';

const req = (path: string, over: Partial<RouteRequest> = {}): RouteRequest => ({
  method: 'GET',
  path,
  query: '',
  host: 'cart.shop.svc.cluster.local',
  headers: {},
  ...over,
});

const parent = `  parentRefs: [{ group: "", kind: Service, name: cart }]\n`;

describe('portProtocol', () => {
  it('reads appProtocol first, then the port name, as Istio does', () => {
    const p = (name?: string, appProtocol?: string) =>
      portProtocol({
        port: 80,
        targetPort: 80,
        protocol: 'TCP',
        ...(name ? { name } : {}),
        ...(appProtocol ? { appProtocol } : {}),
      });
    expect(p('http')).toBe('http');
    expect(p('http-web')).toBe('http');
    expect(p('http2-x')).toBe('http2');
    expect(p('grpc')).toBe('grpc');
    expect(p('grpc-api')).toBe('grpc');
    expect(p('httpx')).toBe('tcp');
    expect(p('web')).toBe('tcp');
    expect(p(undefined)).toBe('tcp');
    expect(p('tcp', 'kubernetes.io/h2c')).toBe('http2');
    expect(p('http', 'kubernetes.io/ws')).toBe('ws');
    expect(p('web', 'GRPC')).toBe('grpc');
    expect(p('http', 'mysql')).toBe('tcp');
  });
});

describe('compileRoutes', () => {
  it('gives each HTTP port and each port with routes an entry per ClusterIP, and its endpoints their protocol', () => {
    const snap = cluster(
      [
        service('shop', 'cart', '10.96.0.10', ['10.0.0.2'], { name: 'http' }),
        service('shop', 'db', '10.96.0.11', ['10.0.0.3'], { name: 'mysql' }),
        service('shop', 'raw', '10.96.0.12', ['10.0.0.4'], { name: 'tcp' }),
        httpRoute('shop', 'raw', '  parentRefs: [{ group: "", kind: Service, name: raw }]\n'),
      ].join('---\n'),
    );
    const t = compileRoutes(snap);
    expect([...t.byVip.keys()].sort()).toEqual(['10.96.0.10:80', '10.96.0.12:80']);
    expect(t.byVip.get('10.96.0.10:80')?.protocol).toBe('http');
    // A route on an undeclared port: listed, read as TCP until the engine detects HTTP.
    expect(t.byVip.get('10.96.0.12:80')?.protocol).toBe('tcp');
    expect([...t.inboundProtocol]).toEqual([['10.0.0.2:8080', 'http']]);
  });

  it('dual stack: one entry per ClusterIP, each with backends of its own family', () => {
    const snap = cluster(`apiVersion: v1
kind: Service
metadata: { name: cart, namespace: shop }
spec:
  clusterIPs: [10.96.0.10, "fd00::10"]
  selector: { app: cart }
  ports: [{ name: http, port: 80, targetPort: 8080 }]
---
apiVersion: v1
kind: Pod
metadata: { name: cart-0, namespace: shop, labels: { app: cart } }
spec: { nodeName: n1, containers: [{ name: c }] }
status: { podIPs: [{ ip: 10.0.0.2 }, { ip: "fd00::2" }] }
---
${httpRoute('shop', 'r', `${parent}  rules: [{ backendRefs: [{ name: cart, port: 80 }] }]\n`)}`);
    const t = compileRoutes(snap);
    const v4 = t.byVip.get('10.96.0.10:80')!.producer[0]!.backends[0]!.target.endpoints;
    const v6 = t.byVip.get('fd00::10:80')!.producer[0]!.backends[0]!.target.endpoints;
    expect(v4.map((e) => e.ip)).toEqual(['10.0.0.2']);
    expect(v6.map((e) => e.ip)).toEqual(['fd00::2']);
    expect([...t.inboundProtocol.keys()].sort()).toEqual(['10.0.0.2:8080', 'fd00::2:8080']);
  });

  it('orders (rule, match) pairs by the spec: Exact, regex, longest prefix, method, headers, query; then age and name', () => {
    const snap = cluster(
      [
        service('shop', 'cart', '10.96.0.10', ['10.0.0.2'], { name: 'http' }),
        httpRoute(
          'shop',
          'b-young',
          `${parent}  rules:
    - matches:
        - path: { value: /a }
        - path: { value: /a }
          headers: [{ name: x, value: "1" }]
        - path: { value: /a }
          queryParams: [{ name: q, value: "1" }]
        - path: { value: /a }
          method: GET
        - path: { value: /a/b }
        - path: { type: Exact, value: /a }
        - path: { type: RegularExpression, value: "/a/.*" }
`,
          '2026-02-01T00:00:00Z',
        ),
        httpRoute(
          'shop',
          'c-old',
          `${parent}  rules: [{ matches: [{ path: { value: /a } }] }]\n`,
          '2026-01-01T00:00:00Z',
        ),
        httpRoute(
          'shop',
          'a-young',
          `${parent}  rules: [{ matches: [{ path: { value: /a } }] }]\n`,
          '2026-02-01T00:00:00Z',
        ),
      ].join('---\n'),
    );
    const rules = compileRoutes(snap).byVip.get('10.96.0.10:80')!.producer;
    const desc = rules.map(
      (r) =>
        `${r.route.split('/')[1]} ${r.match.pathType} ${r.match.path}${r.match.method ? ' M' : ''}${r.match.headers.length ? ' H' : ''}${r.match.queryParams.length ? ' Q' : ''}`,
    );
    expect(desc).toEqual([
      'b-young Exact /a',
      'b-young RegularExpression /a/.*',
      'b-young PathPrefix /a/b',
      'b-young PathPrefix /a M',
      'b-young PathPrefix /a H',
      'b-young PathPrefix /a Q',
      'c-old PathPrefix /a',
      'a-young PathPrefix /a',
      'b-young PathPrefix /a',
    ]);
    expect(
      matchRoute(compileRoutes(snap).byVip.get('10.96.0.10:80')!, 'web', req('/a/b/c'))?.match.path,
    ).toBe('/a/.*');
  });

  it("a client namespace's own routes take precedence for its clients; others see the producer's", () => {
    const snap = cluster(
      [
        service('shop', 'cart', '10.96.0.10', ['10.0.0.2'], { name: 'http' }),
        service('shop', 'cart-v2', '10.96.0.11', ['10.0.0.3'], { name: 'http' }),
        httpRoute(
          'shop',
          'producer',
          `${parent}  rules: [{ backendRefs: [{ name: cart, port: 80 }] }]\n`,
        ),
        httpRoute(
          'web',
          'consumer',
          `  parentRefs: [{ group: "", kind: Service, name: cart, namespace: shop }]\n  rules: [{ backendRefs: [{ name: cart-v2, namespace: shop, port: 80 }] }]\n`,
        ),
      ].join('---\n'),
    );
    const t = compileRoutes(snap).byVip.get('10.96.0.10:80')!;
    expect(matchRoute(t, 'web', req('/'))?.route).toBe('HTTPRoute web/consumer');
    expect(matchRoute(t, 'other', req('/'))?.route).toBe('HTTPRoute shop/producer');
    // Without a ReferenceGrant in shop, web's route may not reach shop/cart-v2.
    expect(matchRoute(t, 'web', req('/'))?.backends[0]).toMatchObject({
      service: 'shop/cart-v2',
      unresolved: 'RefNotPermitted',
      target: { endpoints: [] },
    });
    const granted = cluster(
      [
        service('shop', 'cart', '10.96.0.10', ['10.0.0.2'], { name: 'http' }),
        service('shop', 'cart-v2', '10.96.0.11', ['10.0.0.3'], { name: 'http' }),
        httpRoute(
          'web',
          'consumer',
          `  parentRefs: [{ group: "", kind: Service, name: cart, namespace: shop }]\n  rules: [{ backendRefs: [{ name: cart-v2, namespace: shop, port: 80 }] }]\n`,
        ),
        `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: { name: web, namespace: shop }
spec:
  from: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: web }]
  to: [{ group: "", kind: Service, name: cart-v2 }]
`,
      ].join('---\n'),
    );
    const g = compileRoutes(granted).byVip.get('10.96.0.10:80')!;
    expect(matchRoute(g, 'web', req('/'))?.backends[0]?.unresolved).toBeUndefined();
    expect(matchRoute(g, 'web', req('/'))?.backends[0]?.target.endpoints).toEqual([
      { ip: '10.0.0.3', port: 8080, pod: 'shop/cart-v2-0' },
    ]);
    // No producer route: other namespaces get the Service's own endpoints (no rule).
    expect(g.producer).toEqual([]);
  });

  it('splits by weight; a rule without backends has total weight 0 (500)', () => {
    const snap = cluster(
      [
        service('shop', 'cart', '10.96.0.10', ['10.0.0.2'], { name: 'http' }),
        service('shop', 'v1', '10.96.0.11', ['10.0.0.3']),
        service('shop', 'v2', '10.96.0.12', []),
        httpRoute(
          'shop',
          'split',
          `${parent}  rules:
    - matches: [{ path: { value: /split } }]
      backendRefs: [{ name: v1, port: 80, weight: 3 }, { name: v2, port: 80, weight: 1 }, { name: gone, port: 80, weight: 0 }]
    - matches: [{ path: { value: /none } }]
`,
        ),
      ].join('---\n'),
    );
    const t = compileRoutes(snap).byVip.get('10.96.0.10:80')!;
    const split = matchRoute(t, 'x', req('/split'))!;
    expect(split.totalWeight).toBe(4);
    expect(split.backends.map((b) => [b.service, b.weight, b.unresolved ?? ''])).toEqual([
      ['shop/v1', 3, ''],
      ['shop/v2', 1, ''],
      ['shop/gone', 0, 'BackendNotFound'],
    ]);
    const counts = new Map<string, number>();
    for (let i = 0; i < 1000; i++) {
      const b = pickBackend(split, i / 1000)!;
      counts.set(b.service, (counts.get(b.service) ?? 0) + 1);
    }
    expect(Object.fromEntries(counts)).toEqual({ 'shop/v1': 750, 'shop/v2': 250 });
    const none = matchRoute(t, 'x', req('/none'))!;
    expect(none.totalWeight).toBe(0);
    expect(pickBackend(none, 0.5)).toBeUndefined();
    expect(matchRoute(t, 'x', req('/elsewhere'))).toBeUndefined();
  });

  it('resolves mirrors like backends, and keeps timeouts, retry and per-backend filters', () => {
    const snap = cluster(
      [
        service('shop', 'cart', '10.96.0.10', ['10.0.0.2'], { name: 'http' }),
        service('shop', 'shadow', '10.96.0.11', ['10.0.0.3']),
        httpRoute(
          'shop',
          'r',
          `${parent}  rules:
    - filters:
        - { type: RequestMirror, requestMirror: { backendRef: { name: shadow, port: 80 }, percent: 25 } }
        - { type: RequestMirror, requestMirror: { backendRef: { name: shadow, namespace: other, port: 80 } } }
      backendRefs:
        - name: cart
          port: 80
          filters: [{ type: ResponseHeaderModifier, responseHeaderModifier: { remove: [server] } }]
      timeouts: { request: 2s }
      retry: { codes: [503], attempts: 2 }
`,
        ),
      ].join('---\n'),
    );
    const rule = compileRoutes(snap).byVip.get('10.96.0.10:80')!.producer[0]!;
    expect(rule.mirrors).toEqual([
      {
        service: 'shop/shadow',
        port: 80,
        percent: 25,
        target: {
          service: 'shop/shadow',
          endpoints: [{ ip: '10.0.0.3', port: 8080, pod: 'shop/shadow-0' }],
        },
      },
      {
        service: 'other/shadow',
        port: 80,
        percent: 100,
        target: { service: 'other/shadow', endpoints: [] },
        unresolved: 'RefNotPermitted',
      },
    ]);
    expect(rule.backends[0]!.filters).toEqual([
      { type: 'ResponseHeaderModifier', modifier: { set: [], add: [], remove: ['server'] } },
    ]);
    expect(rule.timeouts).toEqual({ request: 2000 });
    expect(rule.retry).toEqual({ codes: [503], attempts: 2 });
  });

  it('ignores a trailing slash of a PathPrefix, as the spec says', () => {
    const snap = cluster(
      [
        service('shop', 'cart', '10.96.0.10', ['10.0.0.2'], { name: 'http' }),
        httpRoute('shop', 'r', `${parent}  rules: [{ matches: [{ path: { value: /abc/ } }] }]\n`),
      ].join('---\n'),
    );
    const t = compileRoutes(snap).byVip.get('10.96.0.10:80')!;
    expect(['/abc', '/abc/', '/abc/def', '/abcd'].map((p) => !!matchRoute(t, 'x', req(p)))).toEqual(
      [true, true, true, false],
    );
  });
});

describe('routeStatuses', () => {
  it('Accepted per parent, ResolvedRefs with the reason of the worst backend', () => {
    const snap = cluster(
      [
        service('shop', 'cart', '10.96.0.10', [], { name: 'http' }),
        httpRoute(
          'web',
          'r',
          `  parentRefs: [{ group: "", kind: Service, name: cart, namespace: shop }, { group: "", kind: Service, name: gone, port: 81 }]
  rules: [{ backendRefs: [{ name: cart, namespace: shop, port: 80 }, { name: missing, port: 80 }] }]
`,
        ),
      ].join('---\n'),
    );
    const [s] = routeStatuses(snap);
    expect(s!.route).toBe('HTTPRoute web/r');
    expect(
      s!.parents.map((p) => p.conditions.map((c) => `${c.type}=${c.status}/${c.reason}`)),
    ).toEqual([
      ['Accepted=True/Accepted', 'ResolvedRefs=False/RefNotPermitted'],
      ['Accepted=False/NoMatchingParent', 'ResolvedRefs=False/RefNotPermitted'],
    ]);
    expect(s!.parents[0]!.conditions[1]!.message).toContain(
      'no ReferenceGrant in shop lets HTTPRoutes of web reach Service shop/cart',
    );
    expect(s!.parents[0]!.conditions[1]!.message).toContain(
      'spec.rules[0].backendRefs[1]: no Service web/missing',
    );
  });
});
