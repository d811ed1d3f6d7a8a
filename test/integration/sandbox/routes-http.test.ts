// HTTPRoutes end to end in a 2-node sandbox, after the Gateway API's mesh
// conformance tests: a client pod dials a Service ClusterIP, its node proxy
// routes each request by the compiled tables, and an echo backend in each pod
// says what it received. One backend is on the other node (HBONE), one on the
// client's node (hand-off).
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type ClientPod, clientPod, echoServer } from '../../support/pod-apps.ts';
import { describePrivileged } from '../../support/privileged.ts';
import { type TestCluster, testCluster } from '../../support/sandbox.ts';
import { docs, namespace, pod } from '../../support/shop.ts';

const ECHO = { http: 8080, h2: 8090, tcp: 7070 };

const service = (name: string, selector: string, ports: string) => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: shop}
spec:
  selector: {${selector}}
  ports: [${ports}]
`;
const HTTP_PORTS = '{name: http, port: 80, targetPort: 8080, appProtocol: http}';
// A second HTTP port of the same pods, which the producer route does not bind.
const ECHO_PORTS = `${HTTP_PORTS}, {name: http-alt, port: 81, targetPort: 8080, appProtocol: http}`;

const routes = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: echo, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: echo, port: 80}]
  rules:
    - name: exact-v1
      matches: [{path: {type: Exact, value: /v1}}]
      backendRefs: [{name: echo-v1, port: 80}]
    - name: by-header
      matches: [{path: {type: PathPrefix, value: /match}, headers: [{name: x-version, value: v2}]}]
      backendRefs: [{name: echo-v2, port: 80}]
    - name: by-query
      matches: [{path: {type: PathPrefix, value: /match}, queryParams: [{name: v, type: RegularExpression, value: "1|one"}]}]
      backendRefs: [{name: echo-v1, port: 80}]
    - name: by-method
      matches: [{path: {type: PathPrefix, value: /match}, method: DELETE}]
      backendRefs: [{name: echo-v2, port: 80}]
    - name: split
      matches: [{path: {type: PathPrefix, value: /split}}]
      backendRefs: [{name: echo-v1, port: 80, weight: 70}, {name: echo-v2, port: 80, weight: 30}]
    - name: weight-zero
      matches: [{path: {type: PathPrefix, value: /zero}}]
      backendRefs: [{name: echo-v1, port: 80, weight: 0}, {name: echo-v2, port: 80}]
    - name: no-backend
      matches: [{path: {type: PathPrefix, value: /nobackend}}]
      backendRefs: [{name: gone, port: 80}]
    - name: no-backend-refs
      matches: [{path: {type: PathPrefix, value: /norefs}}]
    - name: no-endpoint
      matches: [{path: {type: PathPrefix, value: /noendpoint}}]
      backendRefs: [{name: empty, port: 80}]
    - name: local
      matches: [{path: {type: PathPrefix, value: /local}}]
      backendRefs: [{name: echo-v2, port: 80}]
    - name: remote
      matches: [{path: {type: PathPrefix, value: /remote}}]
      backendRefs: [{name: echo-v1, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: echo-filters, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: echo, port: 80}]
  rules:
    - name: headers
      matches: [{path: {type: PathPrefix, value: /headers}}]
      filters:
        - type: RequestHeaderModifier
          requestHeaderModifier:
            set: [{name: x-set, value: set-by-route}]
            add: [{name: x-add, value: added}]
            remove: [x-remove]
        - type: ResponseHeaderModifier
          responseHeaderModifier:
            set: [{name: x-answer, value: from-route}]
            add: [{name: x-echo-pod, value: via-route}]
            remove: [x-drop-me]
      backendRefs: [{name: echo-v1, port: 80}]
    - name: redirect
      matches: [{path: {type: PathPrefix, value: /old}}]
      filters:
        - type: RequestRedirect
          requestRedirect: {hostname: new.example, path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}, statusCode: 301}
    - name: timeout
      matches: [{path: {type: PathPrefix, value: /slow}}]
      timeouts: {request: 500ms}
      backendRefs: [{name: echo-v1, port: 80}]
    - name: redirect-scheme
      matches: [{path: {type: PathPrefix, value: /secure}}]
      filters:
        - type: RequestRedirect
          requestRedirect: {scheme: https, port: 8443}
    - name: redirect-https
      matches: [{path: {type: PathPrefix, value: /tls}}]
      filters:
        - type: RequestRedirect
          requestRedirect: {scheme: https}
    - name: redirect-full
      matches: [{path: {type: PathPrefix, value: /moved}}]
      filters:
        - type: RequestRedirect
          requestRedirect: {path: {type: ReplaceFullPath, replaceFullPath: /elsewhere}}
    - name: rewrite-full
      matches: [{path: {type: PathPrefix, value: /full}}]
      filters:
        - type: URLRewrite
          urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: /one}}
      backendRefs: [{name: echo-v1, port: 80}]
    - name: rewrite
      matches: [{path: {type: PathPrefix, value: /api}}]
      filters:
        - type: URLRewrite
          urlRewrite: {hostname: rewritten.shop, path: {type: ReplacePrefixMatch, replacePrefixMatch: /v2}}
      backendRefs: [{name: echo-v2, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: echo-for-web, namespace: web}
spec:
  parentRefs: [{group: "", kind: Service, namespace: shop, name: echo}]
  rules:
    - filters:
        - type: RequestHeaderModifier
          requestHeaderModifier: {set: [{name: x-consumer, value: web}]}
      backendRefs: [{name: echo-v2, namespace: shop, port: 80}]
`;

const referenceGrant = `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: web-to-shop, namespace: shop}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: web}]
  to: [{group: "", kind: Service}]
`;

describePrivileged('HTTPRoutes end to end in a 2-node sandbox', () => {
  let c: TestCluster;
  let client: ClientPod;
  let web: ClientPod;
  let vip: string;
  let v1IP: string;

  beforeAll(async () => {
    c = await testCluster('rh', {
      'shop.yaml': docs(
        namespace('shop', 'weft.dev/mesh: enabled'),
        namespace('web', 'weft.dev/mesh: enabled'),
        pod('shop', 'client', 'node-1', { sa: 'client' }),
        pod('web', 'client', 'node-1', { sa: 'web' }),
        pod('shop', 'echo-v1', 'node-2', {
          sa: 'echo',
          labels: 'app: echo, version: v1',
          ports: '{containerPort: 8080}, {containerPort: 7070}',
        }),
        pod('shop', 'echo-v2', 'node-1', {
          sa: 'echo',
          labels: 'app: echo, version: v2',
          ports: '{containerPort: 8080}, {containerPort: 7070}',
        }),
        service('echo', 'app: echo', ECHO_PORTS),
        service('echo-v1', 'version: v1', HTTP_PORTS),
        service('echo-v2', 'version: v2', HTTP_PORTS),
        service('empty', 'app: nobody', HTTP_PORTS),
      ),
      'routes.yaml': routes,
      'grant.yaml': referenceGrant,
    });
    vip = c.sandbox.state.services['shop/echo']!;
    v1IP = c.pod('shop/echo-v1').ip;
    await Promise.all([
      c.serve('shop/echo-v1', echoServer('shop/echo-v1', ECHO)),
      c.serve('shop/echo-v2', echoServer('shop/echo-v2', ECHO)),
    ]);
    [client, web] = await Promise.all([
      clientPod(c.pod('shop/client')),
      clientPod(c.pod('web/client')),
    ]);
    await c.certificates(4);
  }, 90_000);
  afterAll(async () => {
    client?.kill();
    web?.kill();
    expect(await c?.down()).toEqual([]);
  });

  it('routes by path to a backend on the other node and on this one (MeshBasic)', async () => {
    // Every route accepted whole, on both nodes.
    for (const n of ['node-1', 'node-2']) expect((await c.status(n)).rejected).toEqual([]);
    const remote = await client.http(vip, 80, '/remote/x');
    expect(remote.status).toBe(200);
    expect(remote.json).toMatchObject({ pod: 'shop/echo-v1', method: 'GET', path: '/remote/x' });
    const local = await client.http(vip, 80, '/local/y');
    expect(local.json).toMatchObject({ pod: 'shop/echo-v2', path: '/local/y' });
    expect((await client.http(vip, 80, '/v1')).json).toMatchObject({ pod: 'shop/echo-v1' });
    // Exact is exact; no rule matches: 404 from the proxy.
    expect((await client.http(vip, 80, '/v1/more')).status).toBe(404);
  });

  it('matches on headers, query parameters and method', async () => {
    const h = await client.http(vip, 80, '/match', { headers: { 'x-version': 'v2' } });
    expect(h.json).toMatchObject({ pod: 'shop/echo-v2', path: '/match' });
    // A prefix matches whole segments only.
    expect((await client.http(vip, 80, '/matchx', { headers: { 'x-version': 'v2' } })).status).toBe(
      404,
    );
    const q = await client.http(vip, 80, '/match?v=one');
    expect(q.json).toMatchObject({ pod: 'shop/echo-v1', path: '/match?v=one' });
    // The expression matches the whole value.
    expect((await client.http(vip, 80, '/match?v=ones')).status).toBe(404);
    // Header names match whatever their case.
    const u = await client.http(vip, 80, '/match', { headers: { 'X-Version': 'v2' } });
    expect(u.json).toMatchObject({ pod: 'shop/echo-v2' });
    const m = await client.http(vip, 80, '/match', { method: 'DELETE' });
    expect(m.json).toMatchObject({ pod: 'shop/echo-v2', method: 'DELETE' });
    expect((await client.http(vip, 80, '/match', { method: 'GET' })).status).toBe(404);
  });

  it('splits 500 requests of one kept-alive connection by weight, within 5% (MeshTrafficSplit)', async () => {
    const accepted = (await c.status('node-1')).proxy.outbound.accepted;
    const pods = await client.count(vip, 80, '/split', 500);
    expect((await c.status('node-1')).proxy.outbound.accepted).toBe(accepted + 1);
    expect((pods['shop/echo-v1'] ?? 0) + (pods['shop/echo-v2'] ?? 0)).toBe(500);
    expect(Math.abs(pods['shop/echo-v1']! / 500 - 0.7)).toBeLessThanOrEqual(0.05);
    expect(Math.abs(pods['shop/echo-v2']! / 500 - 0.3)).toBeLessThanOrEqual(0.05);
    // Weight 0 takes nothing.
    expect(await client.count(vip, 80, '/zero', 20)).toEqual({ 'shop/echo-v2': 20 });
  });

  it('sets, adds and removes request and response headers', async () => {
    const a = await client.http(vip, 80, '/headers', {
      headers: { 'x-set': 'from-client', 'x-add': 'mine', 'x-remove': 'gone' },
    });
    expect(a.status).toBe(200);
    expect(a.json.headers['x-set']).toBe('set-by-route');
    // add appends to the value the client sent (the spec's "foo,bar").
    expect(a.json.headers['x-add']).toBe('mine,added');
    expect(a.json.headers['x-remove']).toBeUndefined();
    expect(a.headers['x-answer']).toBe('from-route');
    expect(a.headers['x-drop-me']).toBeUndefined();
    expect(a.headers['x-echo-pod']).toBe('shop/echo-v1,via-route');
  });

  it('redirects and rewrites', async () => {
    const r = await client.http(vip, 80, '/old/page?q=1');
    expect(r.status).toBe(301);
    expect(r.headers.location).toBe('http://new.example/new/page?q=1');
    const d = await client.http(vip, 80, '/secure/a?b=c');
    expect(d.status).toBe(302);
    expect(d.headers.location).toBe('https://echo.shop:8443/secure/a?b=c');
    // https on its well-known port: no port in the Location, though the client named :80.
    const t = await client.http(vip, 80, '/tls', { headers: { host: 'echo.shop:80' } });
    expect(t.headers.location).toBe('https://echo.shop/tls');
    const f = await client.http(vip, 80, '/moved/deep');
    expect(f.headers.location).toBe('http://echo.shop/elsewhere');
    expect((await client.http(vip, 80, '/full/deep?k=v')).json).toMatchObject({
      pod: 'shop/echo-v1',
      path: '/one?k=v',
    });
    const w = await client.http(vip, 80, '/api/items?x=2');
    expect(w.json).toMatchObject({ pod: 'shop/echo-v2', path: '/v2/items?x=2' });
    expect(w.json.headers.host).toBe('rewritten.shop');
  });

  it('answers 500 for a backend that does not resolve or a rule without one, 503 for one without endpoints, 504 past the timeout', async () => {
    expect((await client.http(vip, 80, '/nobackend')).status).toBe(500);
    expect((await client.http(vip, 80, '/norefs')).status).toBe(500);
    expect((await client.http(vip, 80, '/noendpoint')).status).toBe(503);
    // The backend answers in 3 s, the rule allows 500 ms: 504, and the connection carries on.
    expect((await client.http(vip, 80, '/slow')).status).toBe(504);
    expect((await client.http(vip, 80, '/remote/after')).json.pod).toBe('shop/echo-v1');
  });

  it("gives a consumer route precedence for its namespace's clients only (MeshConsumerRoute)", async () => {
    const w = await web.http(vip, 80, '/remote/x');
    expect(w.json).toMatchObject({ pod: 'shop/echo-v2', path: '/remote/x' });
    expect(w.json.headers['x-consumer']).toBe('web');
    const s = await client.http(vip, 80, '/remote/x');
    expect(s.json).toMatchObject({ pod: 'shop/echo-v1' });
    expect(s.json.headers['x-consumer']).toBeUndefined();
  });

  it('applies a route bound to one port of the Service only there (MeshPorts)', async () => {
    // Port 81 has no route: any path reaches one of the Service's pods, unmodified.
    const a = await client.http(vip, 81, '/headers');
    expect(a.status).toBe(200);
    expect(a.json.path).toBe('/headers');
    expect(a.headers['x-answer']).toBeUndefined();
    expect((await client.http(vip, 81, '/nowhere')).status).toBe(200);
  });

  it('routes requests to the Service, not to a pod dialled by its own address (MeshFrontend)', async () => {
    const a = await client.http(v1IP, 8080, '/local/y');
    expect(a.json).toMatchObject({ pod: 'shop/echo-v1', path: '/local/y' });
  });

  it('follows an edited route on a connection kept alive across the edit', async () => {
    const conn = 'live';
    const accepted = (await c.status('node-1')).proxy.outbound.accepted;
    expect((await client.http(vip, 80, '/local/a', { conn })).json.pod).toBe('shop/echo-v2');
    c.write(
      'routes.yaml',
      routes.replace(
        'value: /local}}]\n      backendRefs: [{name: echo-v2',
        'value: /local}}]\n      backendRefs: [{name: echo-v1',
      ),
    );
    let pod = '';
    for (let i = 0; i < 100 && pod !== 'shop/echo-v1'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      pod = (await client.http(vip, 80, '/local/a', { conn })).json.pod;
    }
    expect(pod).toBe('shop/echo-v1');
    expect((await c.status('node-1')).proxy.outbound.accepted).toBe(accepted + 1);
  });

  it("answers 500 for a consumer route's backend in another namespace once its ReferenceGrant is gone", async () => {
    rmSync(join(c.manifests, 'grant.yaml'));
    let status = 0;
    for (let i = 0; i < 100 && status !== 500; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await web.http(vip, 80, '/remote/x')).status;
    }
    expect(status).toBe(500);
    // Other namespaces' clients still take the producer's routes.
    expect((await client.http(vip, 80, '/remote/x')).json.pod).toBe('shop/echo-v1');
  });
});
