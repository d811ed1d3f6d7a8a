// policy trace --http to a Service that Gateway API routes bind: each route and rule
// explained, the backends with their weights and endpoints, then the backend followed to
// its authorization verdict with the request as it arrives there (rewritten, modified).
import { describe, expect, it } from 'vitest';
import { type Trace, tracePolicy } from '../../../agent/src/policy/trace.ts';
import { traceRequest } from '../../../agent/src/policy/trace-query.ts';
import { cluster, httpRoute, service } from '../compile/route-fixtures.ts';

const snap = cluster(
  [
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {weft.dev/mesh: enabled}}\n',
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: web, labels: {weft.dev/mesh: enabled}}\n',
    `apiVersion: v1
kind: Pod
metadata: {name: client, namespace: web, labels: {app: client}}
spec: {nodeName: n1, containers: [{name: c}]}
status: {podIP: 10.0.1.1}
`,
    service('shop', 'cart', '10.96.0.10', ['10.0.0.2'], { name: 'http' }),
    service('shop', 'cart-v2', '10.96.0.11', ['10.0.0.3', '10.0.0.4'], { name: 'http' }),
    service('shop', 'empty', '10.96.0.12', [], { name: 'http' }),
    httpRoute(
      'shop',
      'cart',
      `  parentRefs: [{ group: "", kind: Service, name: cart }]
  rules:
    - name: canary
      matches: [{ path: { value: /api } }]
      filters:
        - type: URLRewrite
          urlRewrite: { path: { type: ReplacePrefixMatch, replacePrefixMatch: /v2 } }
        - type: RequestHeaderModifier
          requestHeaderModifier: { set: [{ name: x-canary, value: "yes" }] }
      backendRefs: [{ name: cart, port: 80, weight: 1 }, { name: cart-v2, port: 80, weight: 9 }]
    - matches: [{ path: { type: Exact, value: /old } }]
      filters: [{ type: RequestRedirect, requestRedirect: { path: { type: ReplaceFullPath, replaceFullPath: /new }, statusCode: 301 } }]
    - matches: [{ path: { type: Exact, value: /none } }]
    - matches: [{ path: { type: Exact, value: /empty } }]
      backendRefs: [{ name: empty, port: 80 }]
    - matches: [{ path: { type: Exact, value: /retry } }]
      timeouts: { request: 2s, backendRequest: 500ms }
      retry: { codes: [503, 502], attempts: 3, backoff: 50ms }
      filters: [{ type: ExtensionRef, extensionRef: { group: weft.dev, kind: HTTPFault, name: slow } }]
      backendRefs: [{ name: cart, port: 80 }]
    - matches: [{ path: { type: Exact, value: /broken } }]
      filters: [{ type: ExtensionRef, extensionRef: { group: weft.dev, kind: HTTPFault, name: gone } }]
      backendRefs: [{ name: cart, port: 80 }]
`,
    ),
    `apiVersion: weft.dev/v1alpha1
kind: HTTPFault
metadata: {name: slow, namespace: shop}
spec:
  delay: {fixedDelay: 100ms, percentage: 10}
  abort: {httpStatus: 503, percentage: 0.5}
`,
    `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: v2, namespace: shop}
spec:
  selector: {matchLabels: {app: cart-v2}}
  rules:
  - to: [{operation: {paths: ["/v2/*"]}}]
    when: [{key: "request.headers[x-canary]", values: ["yes"]}]
`,
  ].join('---\n'),
);

function trace(method: string, path: string, headers: Record<string, string> = {}): Trace {
  return tracePolicy({
    cluster: snap,
    trustDomain: 'cluster.local',
    rootNamespace: 'weft-system',
    from: 'web/client',
    to: 'shop/svc/cart',
    port: 80,
    http: traceRequest({ method, path }, headers, 'shop/svc/cart'),
  });
}

const lines = (t: Trace) => t.stages.map((s) => `${s.stage} | ${s.result} | ${s.reason}`);

describe('policy trace through routes', () => {
  it('follows the heaviest backend with the rewritten, modified request, to its authorization verdict', () => {
    const t = trace('GET', '/api/items?x=1');
    expect(t.verdict).toBe('allow');
    const l = lines(t);
    expect(l[0]).toBe('route | info | port 80 is read as http; 1 producer route(s) of shop');
    expect(l).toContain(
      'route HTTPRoute shop/cart rule 0 (canary) match 0 | allow | matches PathPrefix /api',
    );
    expect(l).toContain(
      'route HTTPRoute shop/cart rule 1 match 0 | skip | path /api/items is not exactly /old',
    );
    expect(l).toContain(
      'route filters | info | URLRewrite (ReplacePrefixMatch /v2); RequestHeaderModifier (set x-canary: yes)',
    );
    expect(l).toContain(
      'route backend shop/cart:80 | allow | weight 1 (10.0% of requests): 1 ready endpoint(s), balanced per request: 10.0.0.2:8080',
    );
    expect(l).toContain(
      'route backend shop/cart-v2:80 | allow | weight 9 (90.0% of requests): 2 ready endpoint(s), balanced per request: 10.0.0.3:8080, 10.0.0.4:8080',
    );
    expect(l.find((x) => x.startsWith('route | info | following'))).toBe(
      'route | info | following shop/cart-v2:80 (90.0% of requests); it receives GET /v2/items?x=1 host cart.shop.svc.cluster.local',
    );
    // The backend's AuthorizationPolicy sees the rewritten path and the added header.
    expect(t.stages.find((s) => s.stage === 'AuthorizationPolicy ALLOW')).toMatchObject({
      result: 'allow',
      object: 'shop/v2',
    });
    expect(t.stages.find((s) => s.stage === 'service')?.object).toBe('shop/cart-v2');
  });

  it('no match is 404, a redirect is answered, no backends 500, no endpoints 503', () => {
    const nf = trace('GET', '/elsewhere');
    expect(nf.verdict).toBe('deny');
    expect(lines(nf).at(-1)).toBe(
      "route | deny | no route matches GET /elsewhere: the client's proxy answers 404",
    );
    expect(lines(nf)).toContain(
      'route HTTPRoute shop/cart rule 0 (canary) match 0 | skip | path /elsewhere is not under the prefix /api',
    );
    const rd = trace('GET', '/old', { host: 'cart.example' });
    expect(rd.verdict).toBe('allow');
    expect(lines(rd).at(-1)).toBe(
      'route | info | answered 301 with Location: http://cart.example/new; no backend is reached',
    );
    expect(lines(trace('GET', '/none')).at(-1)).toBe(
      "route | deny | the rule has no backend with weight: the client's proxy answers 500, as the spec says",
    );
    expect(lines(trace('GET', '/empty')).at(-1)).toBe(
      "route | deny | the largest share goes to shop/empty:80, which has no ready endpoint: the client's proxy answers 503",
    );
  });

  it("shows the rule's faults, retry policy, timeouts and the retry budget; a missing HTTPFault answers 500", () => {
    const l = lines(trace('GET', '/retry'));
    expect(l).toContain(
      'route fault | info | delays 10% of requests by 100ms, then aborts 0.5% with HTTP 503',
    );
    const r = l.find((x) => x.startsWith('route retries | info | '))!;
    expect(r).toContain('retry: status 503, 502 up to 3 time(s), backoff from 50ms');
    expect(r).toContain('timeouts.request 2s over all attempts');
    expect(r).toContain('timeouts.backendRequest 500ms per attempt');
    expect(r).toContain('at most 20% of the requests of the last 10 s plus 10 a second');
    expect(lines(trace('GET', '/api/x')).find((x) => x.startsWith('route retries'))).toContain(
      'no retry policy: a connect failure or reset before any response is retried once',
    );
    const b = trace('GET', '/broken');
    expect(b.verdict).toBe('deny');
    expect(lines(b).at(-1)).toBe(
      "route fault | deny | no HTTPFault shop/gone: the filter does not resolve, so the client's proxy answers 500 (ResolvedRefs False)",
    );
  });

  it('leaves a trace without routes as it was', () => {
    const t = tracePolicy({
      cluster: snap,
      trustDomain: 'cluster.local',
      rootNamespace: 'weft-system',
      from: 'web/client',
      to: 'shop/svc/cart-v2',
      port: 80,
      http: traceRequest(
        { method: 'GET', path: '/v2/x' },
        { 'x-canary': 'yes' },
        'shop/svc/cart-v2',
      ),
    });
    expect(t.stages.some((s) => s.stage.startsWith('route'))).toBe(false);
    expect(t.verdict).toBe('allow');
  });
});
