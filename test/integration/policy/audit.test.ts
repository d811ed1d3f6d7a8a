// AUDIT AuthorizationPolicies on plain L4 traffic, on every way into a
// workload: HBONE from another node, the same-node hand-off, and plaintext from
// a pod outside the mesh; audited whether the connection was allowed or
// denied. Each shows up in `weft observe --verdict audit` with the policy and
// rule, and the traffic itself is not changed by the audit.
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { repoRoot } from '../../../agent/src/datapath/native.ts';
import { lastJson, runInPod } from '../../../agent/src/sandbox/exec.ts';
import { describePrivileged } from '../../support/privileged.ts';
import {
  sinkServer,
  type TestCluster,
  type TransferResult,
  testCluster,
  transferClient,
} from '../../support/sandbox.ts';
import { docs, namespace, pod } from '../../support/shop.ts';

const manifests = `${docs(
  namespace('shop', 'weft.dev/mesh: enabled'),
  namespace('outside'),
  pod('shop', 'web', 'node-1', { sa: 'web' }),
  pod('shop', 'neighbour', 'node-2', { sa: 'neighbour' }),
  pod('shop', 'api', 'node-2', { sa: 'api' }),
  pod('outside', 'plain', 'node-1', { labels: '' }),
)}---
apiVersion: security.weft.dev/v1alpha1
kind: AuthorizationPolicy
metadata: {name: api-audit, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  action: AUDIT
  rules:
  - to: [{operation: {ports: ["7000", "7001"]}}]
---
# Anyone on 7000; only the mesh namespace shop on 7001.
apiVersion: security.weft.dev/v1alpha1
kind: AuthorizationPolicy
metadata: {name: api-allow, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  action: ALLOW
  rules:
  - to: [{operation: {ports: ["7000"]}}]
  - from: [{source: {namespaces: ["shop"]}}]
    to: [{operation: {ports: ["7001"]}}]
`;

interface Flow {
  source: string;
  destination: string;
  port: number;
  verdict: string;
  where: string;
  reason: string;
}

describePrivileged('AUDIT flows on L4 traffic: HBONE, same node, plaintext', () => {
  let c: TestCluster;

  beforeAll(async () => {
    c = await testCluster('a', { 'shop.yaml': manifests });
    await c.serve('shop/api', sinkServer(7000));
    await c.serve('shop/api', sinkServer(7001));
    await c.certificates(3);
  }, 60_000);
  afterAll(async () => {
    expect(await c?.down()).toEqual([]);
  });

  it('records every audited connection, allowed or denied, in weft observe --verdict audit', async () => {
    const api = c.pod('shop/api').ip;
    const send = async (from: string, port: number) =>
      lastJson<TransferResult>(await runInPod(c.pod(from), transferClient(api, port, 100)));
    const cases: [string, number, boolean, string][] = [
      ['shop/web', 7000, true, 'proxy inbound (hbone)'],
      ['shop/neighbour', 7000, true, 'proxy inbound (local)'],
      ['outside/plain', 7000, true, 'proxy inbound (plaintext)'],
      ['outside/plain', 7001, false, 'proxy inbound (plaintext)'],
      ['shop/web', 7001, true, 'proxy inbound (hbone)'],
    ];
    for (const [from, port, allowed] of cases) {
      const r = await send(from, port);
      // Auditing changes nothing about the traffic.
      expect({ from, port, carried: r.reply?.bytes === 100 }).toEqual({
        from,
        port,
        carried: allowed,
      });
    }
    const r = spawnSync(
      `${repoRoot}bin/weft`,
      ['observe', '--sandbox', c.sandbox.state.name, '--verdict', 'audit', '-o', 'json'],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(r.status).toBe(0);
    const flows = r.stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Flow);
    expect(flows.every((f) => f.verdict === 'audit')).toBe(true);
    for (const [from, port, , where] of cases) {
      expect(flows).toContainEqual(
        expect.objectContaining({
          source: from,
          destination: 'shop/api',
          port,
          where,
          reason: 'audited by shop/api-audit rule 0',
        }),
      );
    }
    // One audit flow per connection, not one per side of a hand-off.
    expect(flows).toHaveLength(cases.length);
  });
});
