// HTTPLocalRateLimitPolicy in a 2-node sandbox with real traffic: the destination's
// proxy (the server pod is on the other node: HBONE, then the L7 path) holds each
// client identity to 10 requests a second and one ServiceAccount to its override
// of 40; the excess gets 429 with Retry-After, and gRPC gets RESOURCE_EXHAUSTED.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type ClientPod, clientPod, echoServer } from '../../support/pod-apps.ts';
import { describePrivileged } from '../../support/privileged.ts';
import { type TestCluster, testCluster } from '../../support/sandbox.ts';
import { docs, namespace, pod } from '../../support/shop.ts';

const ECHO = { http: 8080, h2: 8090, tcp: 7070 };

const service = `apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  selector: {app: api}
  ports:
    - {name: http, port: 80, targetPort: 8080, appProtocol: http}
    - {name: grpc, port: 91, targetPort: 8090, appProtocol: grpc}
`;

const limit = `apiVersion: weft.dev/v1alpha1
kind: HTTPLocalRateLimitPolicy
metadata: {name: api-limit, namespace: shop}
spec:
  targetRef: {group: "", kind: Service, name: api}
  identity: {requestsPerSecond: 10}
  overrides:
    - requestsPerSecond: 40
      clientRefs: [{kind: ServiceAccount, name: fast}]
`;

describePrivileged('local rate limits at the destination', () => {
  let c: TestCluster;
  let slow: ClientPod;
  let fast: ClientPod;
  let vip: string;

  beforeAll(async () => {
    c = await testCluster('rl', {
      'shop.yaml': docs(
        namespace('shop', 'weft.dev/mesh: enabled'),
        pod('shop', 'slow', 'node-1', { sa: 'slow' }),
        pod('shop', 'fast', 'node-1', { sa: 'fast' }),
        pod('shop', 'api', 'node-2', {
          sa: 'api',
          ports: '{containerPort: 8080}, {containerPort: 8090}',
        }),
        service,
      ),
      'limit.yaml': limit,
    });
    vip = c.sandbox.state.services['shop/api']!;
    await c.serve('shop/api', echoServer('shop/api', ECHO));
    [slow, fast] = await Promise.all([
      clientPod(c.pod('shop/slow')),
      clientPod(c.pod('shop/fast')),
    ]);
    await c.certificates(3);
  }, 90_000);
  afterAll(async () => {
    slow?.kill();
    fast?.kill();
    expect(await c?.down()).toEqual([]);
  });

  it('allows 10/s per identity and 40/s to the override, answering the rest 429', async () => {
    for (const n of ['node-1', 'node-2']) expect((await c.status(n)).rejected).toEqual([]);
    // 60 a second from each for 4 s; the steady state is the last 2 s (a bucket starts full).
    const o = { rps: 60, ms: 4000, skipMs: 2000 };
    const [s, f] = await Promise.all([slow.rate(vip, 80, '/x', o), fast.rate(vip, 80, '/x', o)]);
    const seconds = (o.ms - o.skipMs) / 1000;
    const rate = (r: Record<string, number>) => (r['200'] ?? 0) / seconds;
    expect(Object.keys(s.all).sort()).toEqual(['200', '429']);
    expect(Object.keys(f.all).sort()).toEqual(['200', '429']);
    expect(rate(s.steady)).toBeGreaterThanOrEqual(10 * 0.7);
    expect(rate(s.steady)).toBeLessThanOrEqual(10 * 1.3);
    expect(rate(f.steady)).toBeGreaterThanOrEqual(40 * 0.7);
    expect(rate(f.steady)).toBeLessThanOrEqual(40 * 1.3);
    expect(Number(s.retryAfter)).toBeGreaterThanOrEqual(1);
    // The slow client's bucket is empty now: gRPC on the Service's other port is refused too.
    const burst = await Promise.all(
      Array.from({ length: 15 }, () => slow.grpc(vip, 91, '/echo.Echo/Say', ['hi'])),
    );
    expect(burst.map((b) => b.status)).toContain('8');
    // weft status of the server's node counts what the policy let through and refused.
    const [counts] = (await c.status('node-2')).rateLimits ?? [];
    expect(counts?.policy).toBe('shop/api-limit');
    expect(counts!.allowed).toBeGreaterThanOrEqual((s.all['200'] ?? 0) + (f.all['200'] ?? 0));
    expect(counts!.limited).toBeGreaterThanOrEqual((s.all['429'] ?? 0) + (f.all['429'] ?? 0));
  });
});
