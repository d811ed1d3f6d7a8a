// Retries and injected faults end to end in a 2-node sandbox: a client pod dials a
// Service ClusterIP, its node proxy applies the route's retry (a backend that fails
// its first two requests with 503 is answered 200; without the retry, 503) and the
// HTTPFault a rule names (a 50% abort, a delay, a gRPC status), with real traffic to
// an echo backend on the other node (HBONE).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type ClientPod, clientPod, echoServer } from '../../support/pod-apps.ts';
import { describePrivileged } from '../../support/privileged.ts';
import { type TestCluster, testCluster } from '../../support/sandbox.ts';
import { docs, namespace, pod } from '../../support/shop.ts';

const ECHO = { http: 8080, h2: 8090, tcp: 7070 };

const service = `apiVersion: v1
kind: Service
metadata: {name: echo, namespace: shop}
spec:
  selector: {app: echo}
  ports:
    - {name: http, port: 80, targetPort: 8080, appProtocol: http}
    - {name: grpc, port: 91, targetPort: 8090, appProtocol: grpc}
`;

const routes = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: echo, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: echo, port: 80}]
  rules:
    - name: retried
      matches: [{path: {type: PathPrefix, value: /retried}}]
      retry: {codes: [503], attempts: 2, backoff: 10ms}
      backendRefs: [{name: echo, port: 80}]
    - name: half-abort
      matches: [{path: {type: PathPrefix, value: /abort}}]
      filters:
        - type: ExtensionRef
          extensionRef: {group: weft.dev, kind: HTTPFault, name: half-abort}
      backendRefs: [{name: echo, port: 80}]
    - name: half-delay
      matches: [{path: {type: PathPrefix, value: /delay}}]
      filters:
        - type: ExtensionRef
          extensionRef: {group: weft.dev, kind: HTTPFault, name: half-delay}
      backendRefs: [{name: echo, port: 80}]
    - name: missing
      matches: [{path: {type: PathPrefix, value: /missing}}]
      filters:
        - type: ExtensionRef
          extensionRef: {group: weft.dev, kind: HTTPFault, name: nowhere}
      backendRefs: [{name: echo, port: 80}]
    - name: plain
      backendRefs: [{name: echo, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: echo-grpc, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: echo, port: 91}]
  rules:
    - matches: [{method: {service: echo.Echo, method: Say}}]
      filters:
        - type: ExtensionRef
          extensionRef: {group: weft.dev, kind: HTTPFault, name: unavailable}
      backendRefs: [{name: echo, port: 91}]
    - backendRefs: [{name: echo, port: 91}]
`;

const faults = `apiVersion: weft.dev/v1alpha1
kind: HTTPFault
metadata: {name: half-abort, namespace: shop}
spec:
  abort: {httpStatus: 418, percentage: 50}
---
apiVersion: weft.dev/v1alpha1
kind: HTTPFault
metadata: {name: half-delay, namespace: shop}
spec:
  delay: {fixedDelay: 150ms, percentage: 50}
---
apiVersion: weft.dev/v1alpha1
kind: HTTPFault
metadata: {name: unavailable, namespace: shop}
spec:
  abort: {grpcStatus: UNAVAILABLE}
`;

describePrivileged('retries and injected faults end to end in a 2-node sandbox', () => {
  let c: TestCluster;
  let client: ClientPod;
  let vip: string;

  beforeAll(async () => {
    c = await testCluster('rtf', {
      'shop.yaml': docs(
        namespace('shop', 'weft.dev/mesh: enabled'),
        pod('shop', 'client', 'node-1', { sa: 'client' }),
        pod('shop', 'echo', 'node-2', {
          sa: 'echo',
          labels: 'app: echo',
          ports: '{containerPort: 8080}, {containerPort: 8090}',
        }),
        service,
      ),
      'routes.yaml': routes,
      'faults.yaml': faults,
    });
    vip = c.sandbox.state.services['shop/echo']!;
    await c.serve('shop/echo', echoServer('shop/echo', ECHO));
    client = await clientPod(c.pod('shop/client'));
    await c.certificates(2);
  }, 90_000);
  afterAll(async () => {
    client?.kill();
    expect(await c?.down()).toEqual([]);
  });

  it('answers 200 for a backend failing its first two requests with 503 behind a route retry; 503 without it', async () => {
    for (const n of ['node-1', 'node-2']) expect((await c.status(n)).rejected).toEqual([]);
    const a = await client.http(vip, 80, '/retried/flaky/2/a');
    expect(a.status).toBe(200);
    expect(a.json).toMatchObject({ pod: 'shop/echo', path: '/retried/flaky/2/a' });
    // The same backend behaviour on a rule without retry: the first 503 is the answer.
    expect((await client.http(vip, 80, '/flaky/2/b')).status).toBe(503);
    const s = await c.status('node-1');
    expect(s.retries?.counts.retried).toBeGreaterThanOrEqual(2);
    expect(s.retries?.budgets.some((b) => b.client === 'shop/client' && b.used >= 2)).toBe(true);
  });

  it('aborts 40-60% of 300 requests with a 50% abort fault', async () => {
    const pods = await client.count(vip, 80, '/abort/x', 300);
    const aborted = pods['status 418'] ?? 0;
    expect(aborted + (pods['shop/echo'] ?? 0)).toBe(300);
    expect(aborted).toBeGreaterThanOrEqual(120);
    expect(aborted).toBeLessThanOrEqual(180);
  });

  it('delays the requests a 50% delay fault draws by at least the delay', async () => {
    const out = await client.timed(vip, 80, '/delay/x', 60);
    expect(out.every((o) => o.status === 200)).toBe(true);
    const slow = out.filter((o) => o.ms >= 150).length;
    // The rest are answered well under the delay: the delay is the fault's, not the path's.
    expect(out.filter((o) => o.ms < 100).length + slow).toBe(60);
    expect(slow).toBeGreaterThanOrEqual(15);
    expect(slow).toBeLessThanOrEqual(45);
  });

  it('answers a GRPCRoute abort with its grpcStatus, and 500 for a rule naming a missing HTTPFault', async () => {
    const g = await client.grpc(vip, 91, '/echo.Echo/Say', ['hi']);
    expect(g.status).toBe('14');
    expect(g.messages).toEqual([]);
    const ok = await client.grpc(vip, 91, '/echo.Echo/Stream', ['hi']);
    expect(ok.status).toBe('0');
    expect((await client.http(vip, 80, '/missing')).status).toBe(500);
    const route = (await c.status('node-1')).routes?.find((r) => r.route === 'HTTPRoute shop/echo');
    const resolved = route?.parents[0]?.conditions.find((x) => x.type === 'ResolvedRefs');
    expect(resolved).toMatchObject({ status: 'False', reason: 'BackendNotFound' });
    expect(resolved?.message).toContain('no HTTPFault shop/nowhere');
  });
});
