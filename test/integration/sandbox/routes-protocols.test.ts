// Routed protocols end to end in a 2-node sandbox: h2c requests, gRPC unary and
// server-streaming calls (GRPCRoute, after the Gateway API's MeshGRPCRoute
// tests) and WebSocket upgrades go from a client pod through the node proxies
// to a backend on the other node (HBONE) and on the client's node (hand-off),
// while a raw TCP protocol on another port of the same pods, with no route,
// stays intact.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type ClientPod, clientPod, echoServer } from '../../support/pod-apps.ts';
import { describePrivileged } from '../../support/privileged.ts';
import { type TestCluster, testCluster } from '../../support/sandbox.ts';
import { docs, namespace, pod } from '../../support/shop.ts';

const ECHO = { http: 8080, h2: 8090, tcp: 7070 };

const service = (name: string, selector: string) => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: shop}
spec:
  selector: {${selector}}
  ports:
    - {name: ws, port: 80, targetPort: 8080, appProtocol: kubernetes.io/ws}
    - {name: h2c, port: 90, targetPort: 8090, appProtocol: kubernetes.io/h2c}
    - {name: grpc, port: 91, targetPort: 8090, appProtocol: grpc}
    - {name: line, port: 70, targetPort: 7070}
`;

// Each route sends /remote (or the Say method) to the other node, /local (or Stream) to this one.
const routes = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: echo-h2c, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: echo, port: 90}]
  rules:
    - matches: [{path: {type: PathPrefix, value: /remote}}]
      backendRefs: [{name: echo-remote, port: 90}]
    - matches: [{path: {type: PathPrefix, value: /local}}]
      filters:
        - type: RequestHeaderModifier
          requestHeaderModifier: {set: [{name: x-routed, value: local}]}
      backendRefs: [{name: echo-local, port: 90}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: echo-ws, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: echo, port: 80}]
  rules:
    - matches: [{path: {type: PathPrefix, value: /remote}}]
      backendRefs: [{name: echo-remote, port: 80}]
    - matches: [{path: {type: PathPrefix, value: /local}}]
      backendRefs: [{name: echo-local, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: echo-grpc-http, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: echo, port: 91}]
  rules:
    - matches: [{path: {type: PathPrefix, value: /echo.Echo}}]
      backendRefs: [{name: echo-local, port: 91}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: echo-all-ports, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: echo-remote}]
  rules:
    - matches: [{path: {type: PathPrefix, value: /remote}}]
      backendRefs: [{name: echo-remote, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: echo-grpc, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: echo, port: 91}]
  rules:
    - matches: [{method: {service: echo.Echo, method: Say}}]
      backendRefs: [{name: echo-remote, port: 91}]
    - matches: [{method: {service: echo.Echo, method: Stream}}]
      backendRefs: [{name: echo-local, port: 91}]
    - matches: [{method: {service: echo.Echo, method: Stream}, headers: [{name: x-side, value: remote}]}]
      backendRefs: [{name: echo-remote, port: 91}]
`;

describePrivileged('routed h2c, gRPC, WebSocket and raw TCP end to end in a 2-node sandbox', () => {
  let c: TestCluster;
  let client: ClientPod;
  let vip: string;

  beforeAll(async () => {
    const ports = '{containerPort: 8080}, {containerPort: 8090}, {containerPort: 7070}';
    c = await testCluster('rp', {
      'shop.yaml': docs(
        namespace('shop', 'weft.dev/mesh: enabled'),
        pod('shop', 'client', 'node-1', { sa: 'client' }),
        pod('shop', 'echo-remote', 'node-2', {
          sa: 'echo',
          labels: 'app: echo, side: remote',
          ports,
        }),
        pod('shop', 'echo-local', 'node-1', {
          sa: 'echo',
          labels: 'app: echo, side: local',
          ports,
        }),
        service('echo', 'app: echo'),
        service('echo-remote', 'side: remote'),
        service('echo-local', 'side: local'),
      ),
      'routes.yaml': routes,
    });
    vip = c.sandbox.state.services['shop/echo']!;
    await Promise.all([
      c.serve('shop/echo-remote', echoServer('shop/echo-remote', ECHO)),
      c.serve('shop/echo-local', echoServer('shop/echo-local', ECHO)),
    ]);
    client = await clientPod(c.pod('shop/client'));
    await c.certificates(3);
  }, 90_000);
  afterAll(async () => {
    client?.kill();
    expect(await c?.down()).toEqual([]);
  });

  it('routes the h2c requests of one session each by its own path, across nodes and on one node', async () => {
    for (const n of ['node-1', 'node-2']) expect((await c.status(n)).rejected).toEqual([]);
    const accepted = (await c.status('node-1')).proxy.outbound.accepted;
    const [a, b] = await Promise.all([
      client.h2(vip, 90, { ':path': '/remote/x' }),
      client.h2(vip, 90, { ':path': '/local/y' }),
    ]);
    expect(a.headers[':status']).toBe(200);
    expect(JSON.parse(a.body)).toMatchObject({ pod: 'shop/echo-remote', path: '/remote/x' });
    const local = JSON.parse(b.body);
    expect(local).toMatchObject({ pod: 'shop/echo-local', path: '/local/y' });
    expect(local.headers['x-routed']).toBe('local');
    expect((await client.h2(vip, 90, { ':path': '/nowhere' })).headers[':status']).toBe(404);
    expect((await c.status('node-1')).proxy.outbound.accepted).toBe(accepted + 1);
  });

  it('carries gRPC unary and server-streaming calls with their trailers (MeshGRPCRoute)', async () => {
    const u = await client.grpc(vip, 91, '/echo.Echo/Say', ['hi']);
    expect(u.status).toBe('0');
    expect(u.messages).toEqual(['shop/echo-remote:hi:0']);
    expect(u.trailers['x-pod']).toBe('shop/echo-remote');
    const s = await client.grpc(vip, 91, '/echo.Echo/Stream', ['a', 'b']);
    expect(s.status).toBe('0');
    expect(s.messages).toEqual([
      'shop/echo-local:a:0',
      'shop/echo-local:a:1',
      'shop/echo-local:a:2',
      'shop/echo-local:b:0',
      'shop/echo-local:b:1',
      'shop/echo-local:b:2',
    ]);
    // A header match ranks first: the same stream to the other node.
    const r = await client.grpc(vip, 91, '/echo.Echo/Stream', ['c'], { 'x-side': 'remote' });
    expect(r.status).toBe('0');
    expect(r.messages).toEqual([
      'shop/echo-remote:c:0',
      'shop/echo-remote:c:1',
      'shop/echo-remote:c:2',
    ]);
    // On a gRPC port the GRPCRoute comes first; the HTTPRoute takes what it leaves.
    const h = await client.grpc(vip, 91, '/echo.Echo/Other', ['y']);
    expect(h.status).toBe('0');
    expect(h.messages).toEqual(['shop/echo-local:y:0']);
    // No method matches: UNIMPLEMENTED from the proxy, as a trailers-only answer.
    expect((await client.grpc(vip, 91, '/other.Svc/Call', ['x'])).status).toBe('12');
  });

  it('passes WebSocket upgrades through after routing, across nodes and on one node', async () => {
    const r = await client.upgrade(vip, 80, '/remote/ws', 'ping');
    expect(r.head).toMatch(/^HTTP\/1\.1 101 /);
    expect(r.head).toContain('x-echo-pod: shop/echo-remote');
    expect(r.echoed).toBe('shop/echo-remote:ping');
    const l = await client.upgrade(vip, 80, '/local/ws', 'pong');
    expect(l.echoed).toBe('shop/echo-local:pong');
    expect((await client.upgrade(vip, 80, '/nowhere', 'x')).head).toMatch(/^HTTP\/1\.1 404 /);
  });

  it('leaves a raw TCP protocol on another port of the same pods intact', async () => {
    const lines = await client.line(vip, 70, 'stressed');
    expect(lines[0]).toMatch(/^hello from shop\/echo-(remote|local)$/);
    expect(lines[1]).toBe('desserts');
    // A route bound to every port of a Service binds its TCP port too; a server-first
    // protocol there still works.
    const remote = c.sandbox.state.services['shop/echo-remote']!;
    expect(await client.line(remote, 70, 'drawer')).toEqual([
      'hello from shop/echo-remote',
      'reward',
    ]);
    // So does a client-first one that is not HTTP; and HTTP there is routed.
    expect(await client.first(remote, 70, 'stop')).toEqual(['hello from shop/echo-remote', 'pots']);
    const h = await client.http(remote, 70, '/remote/tcp-port');
    expect(h.json).toMatchObject({ pod: 'shop/echo-remote', path: '/remote/tcp-port' });
    expect((await client.http(remote, 70, '/elsewhere')).status).toBe(404);
    for (const p of ['shop/echo-remote', 'shop/echo-local'])
      expect(await client.line(c.pod(p).ip, 7070, 'live')).toEqual([`hello from ${p}`, 'evil']);
  });
});
