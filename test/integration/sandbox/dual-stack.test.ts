// A dual-stack 2-node sandbox: every pod has an IPv4 and an IPv6 address, and
// weft steers and polices both. Each path is taken to a pod's IPv6 address:
// outbound across nodes (HBONE), same-node hand-off, a dual-stack Service's
// IPv6 ClusterIP, the L7 path, plaintext from outside the mesh (permissive,
// strict), and ingress NetworkPolicy on the second address.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { adminGet } from '../../../agent/src/admin/client.ts';
import type { AccessEntry } from '../../../agent/src/proxy/index.ts';
import { lastJson, runInPod } from '../../../agent/src/sandbox/exec.ts';
import { describePrivileged } from '../../support/privileged.ts';
import {
  type TestCluster,
  type TransferResult,
  testCluster,
  transferClient,
} from '../../support/sandbox.ts';
import { docs, namespace, pod } from '../../support/shop.ts';

const http = '{name: http, containerPort: 8080}';
const cluster = (backStrict = false) =>
  docs(
    namespace('shop', 'weft.dev/mesh: enabled'),
    namespace('back', `weft.dev/mesh: enabled${backStrict ? ', weft.dev/mtls: strict' : ''}`),
    namespace('vault', 'weft.dev/mesh: enabled, weft.dev/mtls: strict'),
    namespace('outside'),
    pod('shop', 'client', 'node-1', { sa: 'client' }),
    pod('shop', 'near', 'node-1', { ports: http }),
    pod('shop', 'server', 'node-2', { sa: 'server', ports: http }),
    pod('shop', 'guarded', 'node-2', { ports: http }),
    pod('shop', 'web', 'node-2', { ports: http }),
    pod('shop', 'web-near', 'node-1', { labels: 'app: web', ports: http }),
    pod('vault', 'locked', 'node-2', { ports: http }),
    pod('back', 'office', 'node-2', { ports: http }),
    pod('outside', 'plain', 'node-1'),
    pod('outside', 'friend', 'node-1', { labels: 'role: friend' }),
    `apiVersion: v1
kind: Service
metadata: {name: server, namespace: shop}
spec:
  ipFamilyPolicy: RequireDualStack
  selector: {app: server}
  ports: [{port: 80, targetPort: http}]
`,
  );

const policies = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: guarded-from-friends, namespace: shop}
spec:
  podSelector: {matchLabels: {app: guarded}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: outside}}
      podSelector: {matchLabels: {role: friend}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web-paths, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  action: ALLOW
  rules:
  - to: [{operation: {paths: ["/ok"]}}]
`;

/** Like sinkServer, on both families ('::' takes IPv4 too, as ::ffff:a.b.c.d). */
const sink6 = `
import net from 'node:net';
import { createHash } from 'node:crypto';
net.createServer({ allowHalfOpen: true }, (s) => {
  const h = createHash('sha256'); let n = 0;
  s.on('data', (d) => { h.update(d); n += d.length; });
  s.on('end', () => s.end(JSON.stringify({ bytes: n, sha256: h.digest('hex'), peer: s.remoteAddress, local: s.localAddress + ':' + s.localPort })));
  s.on('error', () => {});
}).listen(8080, '::', () => console.log('listening'));
`;

const web6 = `
import http from 'node:http';
http.createServer((req, res) => res.end(req.socket.remoteAddress)).listen(8080, '::', () => console.log('listening'));
`;

const get = (url: string) => `
import http from 'node:http';
const req = http.get(${JSON.stringify(url)}, (res) => {
  let body = ''; res.on('data', (d) => { body += d; });
  res.on('end', () => console.log(JSON.stringify({ status: res.statusCode, body })));
});
req.setTimeout(10000, () => { console.log(JSON.stringify({ error: 'TIMEOUT' })); process.exit(0); });
req.on('error', (e) => console.log(JSON.stringify({ error: e.code })));
`;

describePrivileged('dual stack in a 2-node sandbox', () => {
  let c: TestCluster;
  const ip6 = (key: string) => {
    const p = c.sandbox.state.pods.find((x) => x.key === key);
    if (!p?.ip6) throw new Error(`pod ${key} has no IPv6 address`);
    return p.ip6;
  };
  const transfer = async (from: string, host: string, port: number, bytes = 1024) =>
    lastJson<TransferResult>(
      await runInPod(c.pod(from), transferClient(host, port, bytes), 30_000),
    );
  const counters = async () => ({
    out1: (await c.status('node-1')).proxy.outbound.accepted,
    in1: (await c.status('node-1')).proxy.inbound.accepted,
    in2: (await c.status('node-2')).proxy.inbound.accepted,
  });

  beforeAll(async () => {
    c = await testCluster('v', { 'cluster.yaml': cluster(), 'policies.yaml': policies }, 2, {
      dualStack: true,
    });
    await c.certificates(6);
    for (const p of ['shop/near', 'shop/server', 'shop/guarded', 'vault/locked', 'back/office'])
      await c.serve(p, sink6);
    await c.serve('shop/web', web6);
    await c.serve('shop/web-near', web6);
  }, 90_000);
  afterAll(async () => {
    expect(await c?.down()).toEqual([]);
  });

  it('gives every pod an address of each family and listens for both', async () => {
    expect(ip6('shop/server')).toMatch(/^fd00:10:244:2::[0-9a-f]+$/);
    const s = await c.status('node-1');
    expect(s.workloads.find((w) => w.key === 'shop/client')?.podIPs).toEqual([
      c.pod('shop/client').ip,
      ip6('shop/client'),
    ]);
    expect(s.workloads.find((w) => w.key === 'shop/client')?.listeners).toEqual(
      expect.arrayContaining(['inbound 127.0.0.1:15006', 'inbound ::1:15006']),
    );
  });

  it('tunnels to a mesh pod IPv6 address on the other node; getpeername shows it', async () => {
    const before = await counters();
    const r = await transfer('shop/client', ip6('shop/server'), 8080, 1024 * 1024);
    expect(r.error).toBeUndefined();
    expect(r.reply).toMatchObject({ bytes: 1024 * 1024, sha256: r.sha256 });
    // The app asked for the IPv6 address and getpeername says so.
    expect(r.peer).toBe(`${ip6('shop/server')}:8080`);
    // It arrived through the destination's proxy, which speaks from ::1, at the IPv6 address.
    expect(r.reply?.peer).toBe('::1');
    expect(r.reply?.local).toBe(`${ip6('shop/server')}:8080`);
    const after = await counters();
    expect(after.out1).toBe(before.out1 + 1);
    expect(after.in2).toBe(before.in2 + 1);
    // Over HBONE, authenticated, the IPv6 original destination in :authority and the
    // client's IPv6 address as the source the policy saw.
    const log = await adminGet<AccessEntry[]>(c.sandbox.state.nodes[1]!.adminSocket, '/access-log');
    expect(
      log.filter((e) => e.destination === `[${ip6('shop/server')}]:8080`).at(-1),
    ).toMatchObject({
      direction: 'inbound',
      via: 'hbone',
      source: 'spiffe://cluster.local/ns/shop/sa/client',
      result: 'ok',
    });
    const out = await adminGet<AccessEntry[]>(c.sandbox.state.nodes[0]!.adminSocket, '/access-log');
    expect(out.filter((e) => e.direction === 'outbound').at(-1)).toMatchObject({
      via: 'hbone',
      sourceAddress: ip6('shop/client'),
      destination: `[${ip6('shop/server')}]:8080`,
    });
  });

  it("goes to a dual-stack Service's IPv6 ClusterIP", async () => {
    const vips = c.sandbox.state.clusterIPs?.['shop/server'] ?? [];
    expect(vips).toHaveLength(2);
    const vip6 = vips.find((ip) => ip.includes(':'))!;
    const r = await transfer('shop/client', vip6, 80);
    expect(r.error).toBeUndefined();
    expect(r.peer).toBe(`${vip6}:80`);
    // An IPv6 ClusterIP leads to the endpoint's IPv6 address.
    expect(r.reply).toMatchObject({ peer: '::1', local: `${ip6('shop/server')}:8080` });
  });

  it('hands off to a mesh pod IPv6 address on the same node', async () => {
    const before = await counters();
    const r = await transfer('shop/client', ip6('shop/near'), 8080);
    expect(r.error).toBeUndefined();
    expect(r.peer).toBe(`${ip6('shop/near')}:8080`);
    expect(r.reply).toMatchObject({ peer: '::1', local: `${ip6('shop/near')}:8080` });
    const after = await counters();
    expect(after.out1).toBe(before.out1 + 1);
    expect(after.in1).toBe(before.in1 + 1);
  });

  it('serves the L7 path on an IPv6 destination: over HBONE, handed off, and from outside the mesh', async () => {
    const ask = async (from: string, pod: string, path: string) =>
      lastJson<{ status?: number; body?: string; error?: string }>(
        await runInPod(c.pod(from), get(`http://[${ip6(pod)}]:8080${path}`), 20_000),
      );
    for (const [from, to] of [
      ['shop/client', 'shop/web'],
      ['shop/client', 'shop/web-near'],
      ['outside/plain', 'shop/web'],
    ] as const) {
      // The app sees the proxy's IPv6 loopback source; the denied path never reaches it.
      expect(await ask(from, to, '/ok')).toEqual({ status: 200, body: '::1' });
      expect((await ask(from, to, '/no')).status).toBe(403);
    }
  });

  it('steers plaintext from outside the mesh to an IPv6 address through the proxy (permissive)', async () => {
    const before = await counters();
    const r = await transfer('outside/plain', ip6('shop/server'), 8080);
    expect(r.error).toBeUndefined();
    expect(r.reply).toMatchObject({ peer: '::1', local: `${ip6('shop/server')}:8080` });
    expect((await counters()).in2).toBe(before.in2 + 1);
  });

  it('refuses plaintext to an IPv6 address of a strict pod, and lets mesh peers in', async () => {
    const r = await transfer('outside/plain', ip6('vault/locked'), 8080);
    expect(r.reply).toBeUndefined();
    expect(r.error).toMatch(/ECONNRESET|ECONNREFUSED/);
    const m = await transfer('shop/client', ip6('vault/locked'), 8080);
    expect(m.error).toBeUndefined();
    expect(m.reply).toMatchObject({ peer: '::1', local: `${ip6('vault/locked')}:8080` });
  });

  it('applies ingress NetworkPolicy on the IPv6 address', async () => {
    const denied = await transfer('outside/plain', ip6('shop/guarded'), 8080);
    expect(denied.reply).toBeUndefined();
    expect(denied.error).toMatch(/ECONNRESET|ECONNREFUSED/);
    // The policy's peer is the friend pod: both its addresses are admitted.
    const allowed = await transfer('outside/friend', ip6('shop/guarded'), 8080);
    expect(allowed.error).toBeUndefined();
    expect(allowed.reply).toMatchObject({ peer: '::1', local: `${ip6('shop/guarded')}:8080` });
    // And the IPv4 address is policed as before.
    const denied4 = await transfer('outside/plain', c.pod('shop/guarded').ip, 8080);
    expect(denied4.error).toMatch(/ECONNRESET|ECONNREFUSED/);
  });

  it('switches every address of a pod to strict, live', async () => {
    const office = ip6('back/office');
    expect((await transfer('outside/plain', office, 8080)).reply?.peer).toBe('::1');
    c.write('cluster.yaml', cluster(true));
    await expect
      .poll(async () => (await transfer('outside/plain', office, 8080)).error, {
        timeout: 5000,
        interval: 100,
      })
      .toMatch(/ECONNRESET|ECONNREFUSED/);
    expect((await transfer('outside/plain', c.pod('back/office').ip, 8080)).error).toMatch(
      /ECONNRESET|ECONNREFUSED/,
    );
  });

  it('fails closed on the IPv6 address while the agent is down, and steers it again after restart', async () => {
    const server = ip6('shop/server');
    await c.sandbox.stopAgent('node-2');
    // sk_lookup still owns the address; its listener is gone: refused, not let past.
    expect((await transfer('outside/plain', server, 8080)).error).toBe('ECONNREFUSED');
    await c.sandbox.startAgent('node-2');
    const r = await transfer('outside/plain', server, 8080);
    expect(r.reply).toMatchObject({ peer: '::1', local: `${server}:8080` });
  });
});
