// Service VIPs under egress NetworkPolicy, with real connects in a 2-node
// sandbox: the policy allows the client to reach pods app=server on 8080, and
// the VIPs of those pods, of other pods, of both, and of none behave as
// Kubernetes says (policy applies to the pods behind a VIP). The trace, offline
// and live, gives the kernel's answer.
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { adminGet } from '../../../agent/src/admin/client.ts';
import { repoRoot } from '../../../agent/src/datapath/native.ts';
import { type Trace, tracePolicy } from '../../../agent/src/policy/trace.ts';
import { lastJson, runInPod } from '../../../agent/src/sandbox/exec.ts';
import { loadManifests } from '../../../agent/src/sources/manifests/load.ts';
import { describePrivileged } from '../../support/privileged.ts';
import {
  sinkServer,
  type TestCluster,
  type TransferResult,
  testCluster,
  transferClient,
} from '../../support/sandbox.ts';
import { docs, namespace, pod } from '../../support/shop.ts';

const http = '{name: http, containerPort: 8080}';
const service = (name: string, selector: string, targetPort: string | number) => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: shop}
spec:
  selector: {${selector}}
  ports: [{port: 80, targetPort: ${targetPort}}]
`;

const cluster = docs(
  namespace('shop', 'weft.dev/mesh: enabled'),
  pod('shop', 'client', 'node-1'),
  pod('shop', 'server-a', 'node-2', { labels: 'app: server, role: backend', ports: http }),
  pod('shop', 'server-b', 'node-1', { labels: 'app: server, role: backend', ports: http }),
  pod('shop', 'other', 'node-2', { labels: 'app: other, role: backend', ports: http }),
  service('server', 'app: server', 'http'),
  service('other', 'app: other', 8080),
  service('mixed', 'role: backend', 8080),
  service('empty', 'app: nobody', 8080),
);

const policy = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: client-egress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: server}}}]
    ports: [{port: 8080}]
`;

/** `count` connections one after another to host:port; each reports who answered, or its error. */
const manyClient = (host: string, port: number, count: number) => `
import net from 'node:net';
const one = () => new Promise((resolve) => {
  const s = net.connect({ host: ${JSON.stringify(host)}, port: ${port}, allowHalfOpen: true });
  s.setTimeout(10000, () => { s.destroy(); resolve({ error: 'TIMEOUT' }); });
  let reply = '';
  s.on('connect', () => s.end('x'));
  s.on('data', (d) => { reply += d; });
  s.on('end', () => { try { resolve({ local: JSON.parse(reply).local }); } catch { resolve({ error: 'no reply' }); } });
  s.on('error', (e) => resolve({ error: e.code }));
});
const out = [];
for (let i = 0; i < ${count}; i++) out.push(await one());
console.log(JSON.stringify(out));
`;

describePrivileged('Service VIPs under egress NetworkPolicy', () => {
  let c: TestCluster;
  const vip = (name: string) => c.sandbox.state.services[`shop/${name}`]!;
  const adminSocket = () => c.sandbox.state.nodes.find((n) => n.name === 'node-1')!.adminSocket;

  beforeAll(async () => {
    c = await testCluster('v', { 'cluster.yaml': cluster, 'policy.yaml': policy });
    for (const p of ['shop/server-a', 'shop/server-b', 'shop/other'])
      await c.serve(p, sinkServer(8080));
    await c.certificates(4);
  }, 60_000);
  afterAll(async () => {
    expect(await c?.down()).toEqual([]);
  });

  const send = async (name: string) =>
    lastJson<TransferResult>(
      await runInPod(c.pod('shop/client'), transferClient(vip(name), 80, 1000), 30_000),
    );

  it('connects to a VIP whose endpoints are all allowed, and the bytes get through', async () => {
    const r = await send('server');
    expect(r.error).toBeUndefined();
    expect(r.reply?.bytes).toBe(1000);
    expect(r.reply?.sha256).toBe(r.sha256);
    expect([c.pod('shop/server-a').ip, c.pod('shop/server-b').ip]).toContain(
      r.reply?.local.split(':')[0],
    );
  });

  it('refuses a VIP whose endpoints are all denied at connect() with EPERM, and says so', async () => {
    expect((await send('other')).error).toBe('EPERM');
    // The kernel's verdict event reaches the agent through its ring buffer: asked for up to 2 s.
    type Seen = { kind?: string; verdict?: string; addr?: string; destination?: string }[];
    const seen = async (path: string, match: (x: Seen[number]) => boolean) => {
      for (let i = 0; i < 20; i++) {
        const hit = (await adminGet<Seen>(adminSocket(), path)).find(match);
        if (hit) return hit;
        await new Promise((r) => setTimeout(r, 100));
      }
      return undefined;
    };
    expect(await seen('/events', (e) => e.addr === vip('other'))).toMatchObject({
      kind: 'connect',
      verdict: 'deny',
      port: 80,
    });
    // The flow names the Service, as `policy trace --to` does.
    expect(await seen('/flows', (f) => f.destination === 'shop/svc/other')).toMatchObject({
      where: 'connect()',
      verdict: 'deny',
    });
  });

  it('refuses a VIP with no endpoints at connect() with EPERM', async () => {
    expect((await send('empty')).error).toBe('EPERM');
  });

  it('sends every connection to a mixed VIP to an allowed endpoint only', async () => {
    const r = lastJson<{ local?: string; error?: string }[]>(
      await runInPod(c.pod('shop/client'), manyClient(vip('mixed'), 80, 30), 60_000),
    );
    expect(r).toHaveLength(30);
    const by = new Map<string, number>();
    for (const x of r) {
      const who = x.error ?? x.local!.split(':')[0]!;
      by.set(who, (by.get(who) ?? 0) + 1);
    }
    const a = c.pod('shop/server-a').ip;
    const b = c.pod('shop/server-b').ip;
    // Both allowed pods answer (round robin over the allowed ones), the denied one never.
    expect([...by.keys()].sort()).toEqual([a, b].sort());
  });

  it.each([
    ['server', 'allow'],
    ['other', 'deny'],
    ['mixed', 'allow'],
    ['empty', 'deny'],
  ] as const)('traces shop/svc/%s as the kernel decides: %s', async (name, verdict) => {
    const m = loadManifests([c.sandbox.state.resolvedDir]);
    expect(m.errors).toEqual([]);
    const to = `shop/svc/${name}`;
    const offline = tracePolicy({
      cluster: m.cluster,
      trustDomain: 'cluster.local',
      rootNamespace: 'weft-system',
      from: 'shop/client',
      to,
      port: 80,
    });
    expect(offline.verdict).toBe(verdict);
    // `weft policy trace --live`, as a user runs it.
    const r = spawnSync(
      `${repoRoot}bin/weft`,
      [
        'policy',
        'trace',
        '--live',
        '--sandbox',
        c.sandbox.state.name,
        '--from',
        'shop/client',
      ].concat(['--to', to, '--port', '80', '-o', 'json']),
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(r.stderr).toBe('');
    const live = JSON.parse(r.stdout) as Trace;
    expect(live.verdict).toBe(verdict);
    // The VIP's entry installed in node-1's kernel says the same.
    expect(live.stages.find((s) => s.stage === 'egress, installed on node-1')).toMatchObject({
      result: verdict,
    });
    if (name === 'mixed') {
      expect(
        offline.stages
          .filter((s) => s.stage.startsWith('egress NetworkPolicy →'))
          .map((s) => [s.stage, s.result]),
      ).toEqual([
        ['egress NetworkPolicy → shop/other', 'info'],
        ['egress NetworkPolicy → shop/server-a', 'allow'],
        ['egress NetworkPolicy → shop/server-b', 'allow'],
      ]);
    }
  });

  it('follows a policy change: the VIP of the other pods opens when the policy allows them', async () => {
    c.write('policy.yaml', policy.replace('{app: server}', '{role: backend}'));
    let r: TransferResult = {};
    for (let i = 0; i < 50 && r.reply?.bytes !== 1000; i++) {
      r = await send('other');
      if (r.reply?.bytes !== 1000) await new Promise((res) => setTimeout(res, 200));
    }
    expect(r.reply?.local.split(':')[0]).toBe(c.pod('shop/other').ip);
    expect((await send('empty')).error).toBe('EPERM');
  });
});
