// A policy change and the connections already carried: with
// --revoke-on-policy-change the agents reset the ones the new NetworkPolicy
// denies (across nodes over HBONE, and on one node through the kernel relay) and
// count them; without it (the default) they carry on while new ones are refused.
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { lastJson, runInPod, spawnInPod } from '../../../agent/src/sandbox/exec.ts';
import { describePrivileged } from '../../support/privileged.ts';
import { type TestCluster, testCluster } from '../../support/sandbox.ts';
import { docs, namespace, pod } from '../../support/shop.ts';
import { until } from '../../support/until.ts';

const cluster = docs(
  namespace('shop', 'weft.dev/mesh: enabled'),
  pod('shop', 'client', 'node-1', { sa: 'client' }),
  pod('shop', 'far', 'node-2', { sa: 'far', labels: 'app: far, tier: back' }),
  pod('shop', 'near', 'node-1', { sa: 'near', labels: 'app: near, tier: back' }),
);

const denyBack = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: back-closed, namespace: shop}
spec:
  podSelector: {matchLabels: {tier: back}}
  policyTypes: [Ingress]
`;

const echoServer = `
import net from 'node:net';
net.createServer((s) => { s.on('data', (d) => s.write(d)); s.on('error', () => {}); })
  .listen(7000, '0.0.0.0', () => console.log('listening'));
`;

/** Writes a byte every 50 ms and prints how many came back, until the connection ends. */
const chatter = (host: string) => `
import net from 'node:net';
const s = net.connect({ host: ${JSON.stringify(host)}, port: 7000 });
let n = 0;
s.on('connect', () => setInterval(() => s.write('x'), 50));
s.on('data', (d) => { n += d.length; console.log(JSON.stringify({ n })); });
s.on('error', (e) => { console.log(JSON.stringify({ error: e.code, n })); process.exit(0); });
s.on('close', () => { console.log(JSON.stringify({ closed: true, n })); process.exit(0); });
`;

/** One fresh connection: does 'ping' come back within 3 s? */
const ping = (host: string) => `
import net from 'node:net';
const s = net.connect({ host: ${JSON.stringify(host)}, port: 7000 });
s.setTimeout(3000, () => { console.log(JSON.stringify({ error: 'TIMEOUT' })); process.exit(0); });
s.on('connect', () => s.write('ping'));
s.on('data', (d) => { console.log(JSON.stringify({ echo: d.toString() })); process.exit(0); });
s.on('error', (e) => { console.log(JSON.stringify({ error: e.code })); process.exit(0); });
s.on('close', () => { console.log(JSON.stringify({ error: 'CLOSED' })); process.exit(0); });
`;

interface Chat {
  child: ChildProcess;
  last(): { n?: number; error?: string; closed?: boolean };
}

function chat(c: TestCluster, to: string): Chat {
  const child = spawnInPod(c.pod('shop/client'), chatter(c.pod(to).ip));
  let last = {};
  let buf = '';
  child.stdout?.on('data', (d) => {
    buf += d;
    const lines = buf.split('\n');
    buf = lines.pop() ?? '';
    if (lines.length) last = JSON.parse(lines.at(-1)!);
  });
  return { child, last: () => last };
}

function scenario(letter: string, revoke: boolean) {
  let c: TestCluster;
  const chats: Chat[] = [];

  beforeAll(async () => {
    c = await testCluster(letter, { 'cluster.yaml': cluster }, 2, {
      ...(revoke ? { agentArgs: ['--revoke-on-policy-change'] } : {}),
    });
    await c.serve('shop/far', echoServer);
    await c.serve('shop/near', echoServer);
    await c.certificates(3);
  }, 60_000);
  afterAll(async () => {
    for (const x of chats) x.child.kill('SIGKILL');
    expect(await c?.down()).toEqual([]);
  });

  it(`${revoke ? 'resets' : 'keeps'} carried connections a new NetworkPolicy denies`, async () => {
    const far = chat(c, 'shop/far');
    const near = chat(c, 'shop/near');
    chats.push(far, near);
    await until(
      'both connections to echo',
      () => (far.last().n ?? 0) >= 3 && (near.last().n ?? 0) >= 3,
    );
    const before = await Promise.all(['node-1', 'node-2'].map((n) => c.status(n)));
    // node-1: both outbound sides and the same-node one's inbound side; node-2: the tunnelled one's.
    expect(before.map((s) => s.proxy.connections)).toEqual([3, 1]);
    c.write('deny.yaml', denyBack);
    // The policy is in force once a fresh connection is refused, on both nodes.
    for (const to of ['shop/far', 'shop/near']) {
      let r: { echo?: string; error?: string } = {};
      for (let i = 0; i < 30; i++) {
        r = lastJson(await runInPod(c.pod('shop/client'), ping(c.pod(to).ip), 10_000));
        if (r.error !== undefined) break;
        await new Promise((res) => setTimeout(res, 300));
      }
      expect(r.error).toBeDefined();
    }
    const statuses = async () => Promise.all(['node-1', 'node-2'].map((n) => c.status(n)));
    if (revoke) {
      await until('both carried connections ended', () =>
        [far, near].every((x) => x.last().error !== undefined || x.last().closed),
      );
      // Reset, not ended cleanly: the app sees the connection cut.
      expect(far.last().error ?? 'closed without error').toMatch(/ECONNRESET|EPIPE/);
      expect(near.last().error ?? 'closed without error').toMatch(/ECONNRESET|EPIPE/);
      const s = await statuses();
      // Each inbound side judged its own: node-1 the same-node one, node-2 the tunnelled one.
      expect(s.map((x) => x.proxy.revoked)).toEqual([1, 1]);
      const log = await import('../../../agent/src/admin/client.ts').then((m) =>
        m.fetchAccessLog(c.sandbox.state.nodes[1]!.adminSocket),
      );
      const revoked = log.find((e) => e.responseFlags === 'revoked');
      expect(revoked?.detail).toMatch(
        /^closed: revoked by a policy change: denied by ingress NetworkPolicy \(shop\/back-closed\)/,
      );
    } else {
      const n = [far.last().n ?? 0, near.last().n ?? 0];
      await until('both carried connections still echoing', () =>
        [far, near].every((x, i) => (x.last().n ?? 0) > n[i]! + 10),
      );
      expect([far.last().error, near.last().error]).toEqual([undefined, undefined]);
      expect((await statuses()).map((x) => x.proxy.revoked)).toEqual([0, 0]);
    }
  }, 60_000);
}

describePrivileged('revocation on policy change, on', () => scenario('r', true));
describePrivileged('revocation on policy change, off (the default)', () => scenario('o', false));
