// DestinationRules end to end in a 2-node sandbox, with real traffic from a client pod
// through its node proxy: outlier ejection takes a failing pod out and lets it back
// once it recovers; connectionPool limits answer the overflow 503 at once; the default
// balancer (P2C over latency) keeps requests off a slow pod that round robin would
// give a third. docs/resilience.md.
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
  ports: [{name: http, port: 80, targetPort: 8080, appProtocol: http}]
`;

const backend = (name: string, node: string, labels: string) =>
  pod('shop', name, node, { sa: 'echo', labels, ports: '{containerPort: 8080}' });

const TCP_SERVICE = `apiVersion: v1
kind: Service
metadata: {name: line, namespace: shop}
spec:
  selector: {app: line}
  ports: [{name: tcp, port: 7000, targetPort: 7070}]
`;

const rules = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: flaky, namespace: shop}
spec:
  host: flaky.shop.svc.cluster.local
  trafficPolicy:
    # Round robin meets the failing pod at once, whatever its latency.
    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection: {consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 2s, maxEjectionPercent: 50}
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: narrow, namespace: shop}
spec:
  host: narrow
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 1}
      http: {http1MaxPendingRequests: 1}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: lat-rr, namespace: shop}
spec:
  host: lat-rr
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: line, namespace: shop}
spec:
  host: line
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection: {consecutiveGatewayErrors: 1, baseEjectionTime: 60s}
`;

describePrivileged('DestinationRules end to end in a 2-node sandbox', () => {
  let c: TestCluster;
  let client: ClientPod;
  const vip = (name: string) => c.sandbox.state.services[`shop/${name}`]!;

  beforeAll(async () => {
    c = await testCluster('dr', {
      'shop.yaml': docs(
        namespace('shop', 'weft.dev/mesh: enabled'),
        pod('shop', 'client', 'node-1', { sa: 'client' }),
        backend('fl-1', 'node-1', 'app: flaky'),
        backend('fl-2', 'node-2', 'app: flaky'),
        backend('fl-3', 'node-2', 'app: flaky'),
        backend('nr', 'node-2', 'app: narrow'),
        backend('la-1', 'node-1', 'app: lat'),
        backend('la-2', 'node-2', 'app: lat'),
        backend('la-3', 'node-2', 'app: lat'),
        service('flaky', 'app: flaky'),
        service('narrow', 'app: narrow'),
        service('lat', 'app: lat'),
        service('lat-rr', 'app: lat'),
        service('lat-near', 'app: lat').replace(
          'spec:\n',
          'spec:\n  trafficDistribution: PreferClose\n',
        ),
        // A TCP Service: li-1 answers its line protocol, nothing listens in li-2.
        pod('shop', 'li-1', 'node-2', {
          sa: 'echo',
          labels: 'app: line',
          ports: '{containerPort: 7070}',
        }),
        pod('shop', 'li-2', 'node-2', {
          sa: 'echo',
          labels: 'app: line',
          ports: '{containerPort: 7070}',
        }),
        TCP_SERVICE,
      ),
      'rules.yaml': rules,
    });
    const serve = (p: string, b = {}) => c.serve(`shop/${p}`, echoServer(`shop/${p}`, ECHO, b));
    await Promise.all([
      serve('fl-1'),
      serve('fl-2'),
      serve('fl-3', { failing: true }),
      serve('nr'),
      serve('la-1'),
      serve('la-2'),
      serve('la-3', { delayMs: 100 }),
      serve('li-1'),
    ]);
    client = await clientPod(c.pod('shop/client'));
    await c.certificates(3);
  }, 90_000);
  afterAll(async () => {
    client?.kill();
    expect(await c?.down()).toEqual([]);
  });

  it('ejects a pod that answers 500, and takes it back once it recovers (outlierDetection)', async () => {
    for (const n of ['node-1', 'node-2']) expect((await c.status(n)).rejected).toEqual([]);
    // Warm-up: the failing pod is met and ejected.
    await client.count(vip('flaky'), 80, '/warm', 20);
    const n = 300;
    const got = await client.count(vip('flaky'), 80, '/x', n);
    const ok = (got['shop/fl-1'] ?? 0) + (got['shop/fl-2'] ?? 0);
    expect(ok / n).toBeGreaterThanOrEqual(0.99);
    // The status shows it out of the pool, until a time.
    const pools = (await c.status('node-1')).balancers ?? [];
    const flaky = pools.find((p) => p.service === 'shop/flaky:80');
    expect(flaky?.from).toBe('DestinationRule shop/flaky');
    expect(flaky?.ejections).toBeGreaterThan(0);
    // It recovers: back in the pool once its ejection ends, it gets requests again.
    const fl3 = c.pod('shop/fl-3').ip;
    expect((await client.http(fl3, 8080, '/__fail/off')).status).toBe(200);
    const deadline = Date.now() + 20_000;
    let back = 0;
    while (Date.now() < deadline && back === 0) {
      const a = await client.count(vip('flaky'), 80, '/again', 30);
      back = a['shop/fl-3'] ?? 0;
      expect(a['status 500'] ?? 0).toBe(0);
      if (back === 0) await new Promise((r) => setTimeout(r, 500));
    }
    expect(back).toBeGreaterThan(0);
  }, 40_000);

  it('answers what exceeds maxConnections + http1MaxPendingRequests with 503 at once', async () => {
    await client.closeAll();
    const statuses = await client.parallel(vip('narrow'), 80, '/delay/400', 12);
    const ok = statuses.filter((s) => s === 200).length;
    const overflow = statuses.filter((s) => s === 503).length;
    expect(ok).toBeGreaterThanOrEqual(1);
    expect(ok + overflow).toBe(12);
    expect(overflow).toBeGreaterThanOrEqual(8);
    const narrow = ((await c.status('node-1')).balancers ?? []).find(
      (p) => p.service === 'shop/narrow:80',
    );
    expect(narrow?.overflows).toBe(overflow);
  }, 20_000);

  it('ejects the endpoint of a TCP Service whose connections fail (L4, per connection)', async () => {
    const results: string[] = [];
    for (let i = 0; i < 10; i++)
      results.push(
        await client.line(vip('line'), 7000, 'abc').then(
          (l) => l[0] ?? '',
          () => 'failed',
        ),
      );
    // At most the first connection to li-2 fails; it is ejected, li-1 takes the rest.
    expect(results.filter((r) => r === 'failed').length).toBeLessThanOrEqual(1);
    expect(results.slice(2)).toEqual(Array(8).fill('hello from shop/li-1'));
    const line = ((await c.status('node-1')).balancers ?? []).find(
      (p) => p.service === 'shop/line:7000',
    );
    expect(line?.endpoints.find((e) => e.pod === 'shop/li-2')?.ejectedUntil ?? null).not.toBeNull();
  }, 30_000);

  it("keeps to the endpoint on the client's node with trafficDistribution: PreferClose", async () => {
    await client.closeAll();
    // la-1 is the only one on node-1, the client's node.
    expect(await client.count(vip('lat-near'), 80, '/near', 30)).toEqual({ 'shop/la-1': 30 });
  }, 20_000);

  it('keeps requests off a slow pod by default; ROUND_ROBIN gives it a third', async () => {
    // `count` keeps one connection for all its requests, whichever the VIP: a new one each.
    await client.closeAll();
    const ewma = await client.count(vip('lat'), 80, '/p', 200);
    expect((ewma['shop/la-3'] ?? 0) / 200).toBeLessThan(0.15);
    await client.closeAll();
    const rr = await client.count(vip('lat-rr'), 80, '/p', 120);
    expect(Math.abs((rr['shop/la-3'] ?? 0) / 120 - 1 / 3)).toBeLessThanOrEqual(0.05);
  }, 40_000);
});
