// Policy enforced by the mesh in a 2-node sandbox, pair by pair, and for every
// pair `weft policy trace` on the same manifests says what the traffic did.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { adminGet } from '../../../agent/src/admin/client.ts';
import { tracePolicy } from '../../../agent/src/policy/trace.ts';
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

const cluster = docs(
  namespace('shop', 'weft.dev/mesh: enabled'),
  namespace('intruder'),
  pod('shop', 'frontend', 'node-1', { sa: 'frontend' }),
  pod('shop', 'admin', 'node-1', { sa: 'admin' }),
  pod('shop', 'cart', 'node-2', { sa: 'cart', ports: '{name: http, containerPort: 8080}' }),
  pod('intruder', 'evil', 'node-2', { ports: '{containerPort: 9000}' }),
);

const policies = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: cart-from-shop, namespace: shop}
spec:
  podSelector: {matchLabels: {app: cart}}
  ingress:
  - from: [{podSelector: {}}]
    ports: [{port: http}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: frontend-egress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: frontend}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: cart}}}]
    ports: [{port: 8080}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: cart-callers, namespace: shop}
spec:
  selector: {matchLabels: {app: cart}}
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/shop/sa/frontend"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: cart-audit, namespace: shop}
spec:
  selector: {matchLabels: {app: cart}}
  action: AUDIT
  rules:
  - from: [{source: {namespaces: ["shop"]}}]
`;

const pairs: [string, string, number, 'allow' | 'deny'][] = [
  ['shop/frontend', 'shop/cart', 8080, 'allow'],
  ['shop/admin', 'shop/cart', 8080, 'deny'], // AuthorizationPolicy: not the frontend's identity
  ['intruder/evil', 'shop/cart', 8080, 'deny'], // ingress NetworkPolicy, plaintext path
  ['shop/frontend', 'intruder/evil', 9000, 'deny'], // egress NetworkPolicy
  ['shop/admin', 'intruder/evil', 9000, 'allow'],
];

describePrivileged('policy enforcement agrees with policy trace', () => {
  let c: TestCluster;

  beforeAll(async () => {
    c = await testCluster('p', { 'cluster.yaml': cluster, 'policies.yaml': policies });
    await c.serve('shop/cart', sinkServer(8080));
    await c.serve('intruder/evil', sinkServer(9000));
    await c.certificates(3);
  }, 60_000);
  afterAll(async () => {
    expect(await c?.down()).toEqual([]);
  });

  it.each(pairs)(
    '%s → %s:%i is %s, in traffic and in the trace',
    async (from, to, port, expected) => {
      const target = c.pod(to).ip;
      const r = lastJson<TransferResult>(
        await runInPod(c.pod(from), transferClient(target, port, 1000), 30_000),
      );
      const did = r.reply?.bytes === 1000 ? 'allow' : 'deny';
      const m = loadManifests([`${c.sandbox.state.resolvedDir}`]);
      expect(m.errors).toEqual([]);
      const t = tracePolicy({
        cluster: m.cluster,
        trustDomain: 'cluster.local',
        rootNamespace: 'weft-system',
        from,
        to,
        port,
      });
      expect({ traffic: did, trace: t.verdict }).toEqual({ traffic: expected, trace: expected });
      // Egress is refused by the kernel at connect(): at once, with EPERM.
      if (from === 'shop/frontend' && to === 'intruder/evil') expect(r.error).toBe('EPERM');
      // Plaintext ingress is refused by sk_lookup in the destination pod's netns: a reset at once.
      if (from === 'intruder/evil') expect(r.error).toBe('ECONNREFUSED');
    },
  );

  it('streams the flows with weft observe, filtered by verdict', async () => {
    const { spawnSync } = await import('node:child_process');
    const { repoRoot } = await import('../../../agent/src/datapath/native.ts');
    const r = spawnSync(
      `${repoRoot}bin/weft`,
      ['observe', '--sandbox', c.sandbox.state.name, '--verdict', 'deny', '-o', 'json'],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(r.status).toBe(0);
    const flows = r.stdout
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as { source: string; destination: string; where: string; verdict: string },
      );
    expect(flows.every((f) => f.verdict === 'deny')).toBe(true);
    expect(flows).toContainEqual(
      expect.objectContaining({
        source: 'shop/frontend',
        destination: 'intruder/evil',
        where: 'connect()',
      }),
    );
    expect(flows).toContainEqual(
      expect.objectContaining({ destination: 'shop/cart', where: 'sk_lookup' }),
    );
    expect(flows).toContainEqual(
      expect.objectContaining({
        source: 'shop/admin',
        destination: 'shop/cart',
        where: 'proxy inbound (hbone)',
      }),
    );
    const audits = spawnSync(
      `${repoRoot}bin/weft`,
      ['observe', '--sandbox', c.sandbox.state.name, '--verdict', 'audit'],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(audits.stdout).toMatch(
      /shop\/frontend → shop\/cart:8080 .* AUDIT .*audited by shop\/cart-audit rule 0/,
    );
  });

  it('traces live from the agents, with what the installed maps say', async () => {
    const { spawnSync } = await import('node:child_process');
    const { repoRoot } = await import('../../../agent/src/datapath/native.ts');
    const live = (from: string, to: string, port: number) => {
      const r = spawnSync(
        `${repoRoot}bin/weft`,
        [
          'policy',
          'trace',
          '--live',
          '--sandbox',
          c.sandbox.state.name,
          '--from',
          from,
          '--to',
          to,
          '--port',
          String(port),
          '-o',
          'json',
        ],
        { encoding: 'utf8', timeout: 20_000 },
      );
      expect(r.stderr).toBe('');
      return JSON.parse(r.stdout) as {
        verdict: string;
        stages: { stage: string; result: string; reason: string }[];
      };
    };
    const egress = live('shop/frontend', 'intruder/evil', 9000);
    expect(egress.verdict).toBe('deny');
    expect(egress.stages).toContainEqual(
      expect.objectContaining({ stage: 'egress, installed on node-1', result: 'deny' }),
    );
    const ok = live('shop/frontend', 'shop/cart', 8080);
    expect(ok.verdict).toBe('allow');
    expect(ok.stages).toContainEqual(
      expect.objectContaining({
        stage: 'egress, installed on node-1',
        result: 'allow',
        reason: expect.stringContaining('8080'),
      }),
    );
    const intruder = live('intruder/evil', 'shop/cart', 8080);
    expect(intruder.verdict).toBe('deny');
    expect(intruder.stages).toContainEqual(
      expect.objectContaining({
        stage: 'ingress (plaintext), installed on node-2',
        reason: expect.stringContaining('would refuse'),
      }),
    );
  });

  it('keeps the last good policy when an edit breaks it, and lists the rejection in weft status', async () => {
    c.write('policies.yaml', policies.replace('ports: [{port: http}]', 'ports: [{port: 70000}]'));
    const reason = async () =>
      (await c.status('node-2')).rejected.find(
        (r) => r.object === 'NetworkPolicy shop/cart-from-shop',
      );
    await expect.poll(reason, { timeout: 5000, interval: 100 }).toMatchObject({
      field: 'spec.ingress[0].ports[0].port',
    });
    // The last good version still keeps the intruder out.
    const r = lastJson<TransferResult>(
      await runInPod(
        c.pod('intruder/evil'),
        transferClient(c.pod('shop/cart').ip, 8080, 10),
        20_000,
      ),
    );
    expect(r.error).toBe('ECONNREFUSED');
    c.write('policies.yaml', policies);
    await expect.poll(reason, { timeout: 5000, interval: 100 }).toBeUndefined();
  });

  it('logs each denial with the policy that made it', async () => {
    const { fetchAccessLog } = await import('../../../agent/src/admin/client.ts');
    const node2 = await fetchAccessLog(c.sandbox.state.nodes[1]!.adminSocket);
    const node1 = await fetchAccessLog(c.sandbox.state.nodes[0]!.adminSocket);
    const details = [...node1, ...node2]
      .filter((e) => e.result === 'refused')
      .map((e) => e.detail ?? '');
    expect(
      details.some(
        (d) => d.startsWith('denied by AuthorizationPolicy') && d.includes('shop/cart-callers'),
      ),
    ).toBe(true);
    const node2Events = (await adminGet<unknown[]>(
      c.sandbox.state.nodes[1]!.adminSocket,
      '/events',
    )) as {
      kind: string;
      verdict: string;
      addr: string;
      port: number;
    }[];
    expect(node2Events).toContainEqual(
      expect.objectContaining({
        kind: 'sk_lookup',
        verdict: 'deny',
        addr: c.pod('shop/cart').ip,
        port: 8080,
      }),
    );
    // The egress denial happened in the kernel; its verdict event names the destination.
    const events = (await adminGet<unknown[]>(
      c.sandbox.state.nodes[0]!.adminSocket,
      '/events',
    )) as {
      kind: string;
      verdict: string;
      addr: string;
      port: number;
    }[];
    expect(events).toContainEqual(
      expect.objectContaining({
        kind: 'connect',
        verdict: 'deny',
        addr: c.pod('intruder/evil').ip,
        port: 9000,
      }),
    );
  });
});
