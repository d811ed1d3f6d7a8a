// HTTPRoute, GRPCRoute and ReferenceGrant documents through the manifest parser: defaults
// filled in, the Gateway API's own validation, and what weft cannot honour refused by name.
import { describe, expect, it } from 'vitest';
import { parseManifestFile } from '../../../../agent/src/sources/manifests/index.ts';
import { LastGood } from '../../../../agent/src/sources/manifests/merge.ts';

function parse(yaml: string) {
  return parseManifestFile('routes.yaml', yaml);
}

const head = (kind = 'HTTPRoute', api = 'gateway.networking.k8s.io/v1') => `apiVersion: ${api}
kind: ${kind}
metadata: { name: r, namespace: shop }
`;

const parent = `  parentRefs: [{ group: "", kind: Service, name: cart, port: 80 }]
`;

function fields(yaml: string): string[] {
  return parse(yaml).errors.map((e) => `${e.object} ${e.field}`);
}

describe('HTTPRoute', () => {
  it('fills in the spec defaults', () => {
    const r = parse(`${head()}spec:
${parent}  rules:
    - backendRefs: [{ name: cart-v1, port: 8080 }]
      filters:
        - type: RequestRedirect
          requestRedirect: { scheme: https }
`);
    expect(r.errors).toEqual([]);
    const o = r.objects[0]!;
    expect(o.kind).toBe('HTTPRoute');
    if (o.kind !== 'HTTPRoute') return;
    expect(o.value.parentRefs).toEqual([{ namespace: 'shop', name: 'cart', port: 80 }]);
    const rule = o.value.rules[0]!;
    expect(rule.matches).toEqual([
      { path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] },
    ]);
    expect(rule.backendRefs).toEqual([
      { namespace: 'shop', name: 'cart-v1', port: 8080, weight: 1, filters: [] },
    ]);
    expect(rule.filters).toEqual([{ type: 'RequestRedirect', scheme: 'https', statusCode: 302 }]);
  });

  it('reads every core and extended field', () => {
    const r = parse(`${head('HTTPRoute', 'gateway.networking.k8s.io/v1beta1')}spec:
${parent}  hostnames: [cart.shop.svc.cluster.local, "*.example.com"]
  rules:
    - name: canary
      matches:
        - path: { type: Exact, value: /cart }
          method: POST
          headers: [{ name: X-User, value: alice }, { type: RegularExpression, name: x-env, value: "dev|test" }]
          queryParams: [{ name: Debug, value: "1" }]
        - path: { type: RegularExpression, value: "/items/[0-9]+" }
      filters:
        - type: RequestHeaderModifier
          requestHeaderModifier: { set: [{ name: X-A, value: a }], add: [{ name: x-b, value: b }], remove: [X-C] }
        - type: ResponseHeaderModifier
          responseHeaderModifier: { remove: [server] }
        - type: RequestMirror
          requestMirror: { backendRef: { name: shadow, port: 80 }, fraction: { numerator: 1, denominator: 4 } }
        - type: URLRewrite
          urlRewrite: { hostname: cart.internal, path: { type: ReplaceFullPath, replaceFullPath: /v2/cart } }
      backendRefs:
        - { name: cart-v1, port: 8080, weight: 90 }
        - name: cart-v2
          port: 8080
          weight: 10
          filters: [{ type: RequestHeaderModifier, requestHeaderModifier: { set: [{ name: x-canary, value: "1" }] } }]
      timeouts: { request: 10s, backendRequest: 1m0s500ms }
      retry: { codes: [503], attempts: 2, backoff: 100ms }
`);
    expect(r.errors.map((e) => `${e.field}: ${e.message}`)).toEqual([
      'spec.rules[0].timeouts.backendRequest: expected at most timeouts.request (10s), found 1m0s500ms',
    ]);
    const ok = parse(
      `${head().replace('namespace: shop }', 'namespace: shop, creationTimestamp: "2026-01-02T03:04:05Z" }')}spec:
${parent}  rules:
    - matches: [{ path: { type: PathPrefix, value: /a }, method: GET }]
      timeouts: { request: 1m30s, backendRequest: 500ms }
      retry: { codes: [503, 502], attempts: 2, backoff: 100ms }
      backendRefs: [{ name: a, port: 1 }]
`,
    );
    expect(ok.errors).toEqual([]);
    const route = ok.objects[0]!
      .value as import('../../../../agent/src/state/route-types.ts').HttpRoute;
    expect(route.created).toBe(Date.parse('2026-01-02T03:04:05Z'));
    expect(route.rules[0]!.timeouts).toEqual({ request: 90_000, backendRequest: 500 });
    expect(route.rules[0]!.retry).toEqual({ codes: [503, 502], attempts: 2, backoff: 100 });
  });

  it('refuses what weft cannot honour, by name', () => {
    const errs = fields(`${head()}spec:
  parentRefs: [{ name: gw }, { group: "", kind: Service, name: cart, sectionName: http }]
  rules:
    - sessionPersistence: { sessionName: x }
      filters:
        - type: ExtensionRef
          extensionRef: { group: x, kind: Y, name: z }
        - type: CORS
          cors: {}
      backendRefs:
        - { group: example.com, kind: Bucket, name: b }
`);
    expect(errs).toEqual([
      'HTTPRoute shop/r spec.parentRefs[0].kind',
      'HTTPRoute shop/r spec.parentRefs[1].sectionName',
      'HTTPRoute shop/r spec.rules[0].sessionPersistence',
      'HTTPRoute shop/r spec.rules[0].filters[0].extensionRef',
      'HTTPRoute shop/r spec.rules[0].filters[1].type',
      'HTTPRoute shop/r spec.rules[0].backendRefs[0].group',
      'HTTPRoute shop/r spec.rules[0].backendRefs[0].kind',
      'HTTPRoute shop/r spec.rules[0].backendRefs[0].port',
    ]);
    const r = parse(`${head()}spec:\n  parentRefs: [{ name: gw }]\n`);
    expect(r.errors[0]!.message).toContain('weft is a mesh and binds routes to Services');
    expect(r.errors[0]!.message).toContain('the default when kind is left out');
    expect(r.rejected).toEqual(['HTTPRoute shop/r']);
  });

  it("refuses what the Gateway API's validation refuses", () => {
    const errs = parse(`${head()}spec:
${parent}  hostnames: [Bad_Host]
  rules:
    - matches:
        - path: { type: PathPrefix, value: /a//b }
          method: FETCH
          headers: [{ name: "bad header", value: x }, { name: X-A, value: "a" }, { name: x-a, value: "b" }]
        - path: { type: RegularExpression, value: "(a+)+$" }
        - path: { type: RegularExpression, value: "(?<=a)b" }
        - path: { type: RegularExpression, value: "([a-z" }
      filters:
        - type: RequestRedirect
          requestRedirect: { statusCode: 404, path: { type: ReplacePrefixMatch, replacePrefixMatch: /x } }
        - type: URLRewrite
          urlRewrite: { path: { type: ReplaceFullPath, replacePrefixMatch: /x } }
        - type: RequestHeaderModifier
        - { type: RequestHeaderModifier, requestHeaderModifier: { set: [{ name: a, value: "x\\r\\ny" }] } }
      backendRefs: [{ name: x, port: 80, weight: -1 }]
      timeouts: { request: 10 }
      retry: { attempts: 99 }
      bogus: 1
`).errors.map((e) => e.field);
    expect(errs).toEqual([
      'spec.hostnames[0]',
      'spec.rules[0].bogus',
      'spec.rules[0].matches[0].path.value',
      'spec.rules[0].matches[0].headers[0].name',
      'spec.rules[0].matches[0].headers[2].name',
      'spec.rules[0].matches[0].method',
      'spec.rules[0].matches[1].path.value',
      'spec.rules[0].matches[2].path.value',
      'spec.rules[0].matches[3].path.value',
      'spec.rules[0].filters[0].requestRedirect.statusCode',
      'spec.rules[0].filters[1].urlRewrite.path.replacePrefixMatch',
      'spec.rules[0].filters[1].urlRewrite.path.replaceFullPath',
      'spec.rules[0].filters[2].requestHeaderModifier',
      'spec.rules[0].filters[3].type',
      'spec.rules[0].filters[3].requestHeaderModifier.set[0].value',
      'spec.rules[0].filters',
      'spec.rules[0].filters[0]',
      'spec.rules[0].backendRefs[0].weight',
      'spec.rules[0].timeouts.request',
      'spec.rules[0].retry.attempts',
    ]);
  });

  it('keeps the last good version while a broken one is in the file', () => {
    const good = `${head()}spec:\n${parent}  rules: [{ backendRefs: [{ name: a, port: 1 }] }]\n`;
    const bad = `${head()}spec:\n${parent}  rules: [{ backendRefs: [{ name: a, port: 1, weight: x }] }]\n`;
    const m = new LastGood();
    const one = m.apply(new Map([['f.yaml', parseManifestFile('f.yaml', good)]]));
    expect([...one.snapshot.routes!.keys()]).toEqual(['HTTPRoute shop/r']);
    const two = m.apply(new Map([['f.yaml', parseManifestFile('f.yaml', bad)]]));
    expect(two.changed).toBe(false);
    expect(two.snapshot.routes!.get('HTTPRoute shop/r')).toEqual(
      one.snapshot.routes!.get('HTTPRoute shop/r'),
    );
    expect(two.errors.map((e) => `${e.file} ${e.object} ${e.field}`)).toEqual([
      'f.yaml HTTPRoute shop/r spec.rules[0].backendRefs[0].weight',
    ]);
  });
});

describe('regular expressions', () => {
  it('refuses the shapes that backtrack exponentially, and keeps ordinary ones', () => {
    const path = (re: string) =>
      parse(`${head()}spec:
${parent}  rules: [{ matches: [{ path: { type: RegularExpression, value: ${JSON.stringify(re)} } }] }]
`).errors.map((e) => e.message);
    expect(path('/(a+)+')[0]).toContain('repeats or alternates');
    expect(path('/(a|aa)+')[0]).toContain('repeats or alternates');
    expect(path('/(x*)*y')[0]).toContain('repeats or alternates');
    expect(path('/(?:v1|v2)/.*')).toEqual([]);
    expect(path('/items/[0-9]+(/[a-z]+)?')).toEqual([]);
    expect(path('/[(+]+')).toEqual([]);
    expect(path(`/${'a'.repeat(1024)}`)[0]).toContain('at most 1024 characters');
  });
});

describe('GRPCRoute', () => {
  it('reads method matches and refuses HTTP-only filters', () => {
    const r = parse(`${head('GRPCRoute')}spec:
${parent}  rules:
    - matches:
        - method: { service: helloworld.Greeter, method: SayHello }
          headers: [{ name: x-user, value: a }]
        - method: { type: RegularExpression, service: "helloworld\\\\..*" }
      backendRefs: [{ name: greeter, port: 50051 }]
`);
    expect(r.errors).toEqual([]);
    const route = r.objects[0]!
      .value as import('../../../../agent/src/state/route-types.ts').GrpcRoute;
    expect(route.rules[0]!.matches[0]).toEqual({
      method: { type: 'Exact', service: 'helloworld.Greeter', method: 'SayHello' },
      headers: [{ type: 'Exact', name: 'x-user', value: 'a' }],
    });
    const bad = fields(`${head('GRPCRoute', 'gateway.networking.k8s.io/v1alpha2')}spec:
${parent}  rules:
    - matches: [{ method: {} }, { method: { service: "no spaces" } }]
      filters: [{ type: URLRewrite, urlRewrite: {} }]
      timeouts: { request: 1s }
`);
    expect(bad).toEqual([
      'GRPCRoute shop/r apiVersion',
      'GRPCRoute shop/r spec.rules[0].timeouts',
      'GRPCRoute shop/r spec.rules[0].matches[0].method',
      'GRPCRoute shop/r spec.rules[0].matches[1].method.service',
      'GRPCRoute shop/r spec.rules[0].filters[0].type',
    ]);
  });
});

describe('ReferenceGrant', () => {
  it('keeps the entries that concern routes to Services', () => {
    const r = parse(`apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: { name: g, namespace: backends }
spec:
  from:
    - { group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: shop }
    - { group: gateway.networking.k8s.io, kind: Gateway, namespace: edge }
  to:
    - { group: "", kind: Service, name: cart }
    - { group: "", kind: Secret }
`);
    expect(r.errors).toEqual([]);
    expect(r.objects[0]).toEqual({
      kind: 'ReferenceGrant',
      value: {
        namespace: 'backends',
        name: 'g',
        from: [{ kind: 'HTTPRoute', namespace: 'shop' }],
        to: [{ name: 'cart' }],
      },
    });
    expect(
      fields(`apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: { name: g }
spec: { from: [{ kind: HTTPRoute, namespace: shop }], to: [] }
`),
    ).toEqual(['ReferenceGrant default/g spec.from[0].group', 'ReferenceGrant default/g spec.to']);
  });
});

describe('Service appProtocol', () => {
  it('is read, and checked', () => {
    const svc = (p: string) => `apiVersion: v1
kind: Service
metadata: { name: cart, namespace: shop }
spec: { ports: [{ port: 80, appProtocol: ${p} }] }
`;
    const r = parse(svc('kubernetes.io/h2c'));
    expect(r.errors).toEqual([]);
    expect((r.objects[0]!.value as { ports: readonly unknown[] }).ports[0]).toMatchObject({
      appProtocol: 'kubernetes.io/h2c',
    });
    expect(fields(svc('"not valid!"'))).toEqual(['Service shop/cart spec.ports[0].appProtocol']);
  });
});
