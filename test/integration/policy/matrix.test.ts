// The policy matrix: 3 namespaces × 3 pods × 2 ports in a 2-node sandbox, under
// NetworkPolicies (default deny, namespace and pod selectors AND/OR, ipBlock with
// except, a single port, egress limits) and AuthorizationPolicies (DENY by
// principal, ALLOW by namespace). For every ordered pair and port, the verdict of
// `weft policy trace` equals what the traffic did.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tracePolicy } from '../../../agent/src/policy/trace.ts';
import { lastJson, runInPod } from '../../../agent/src/sandbox/exec.ts';
import { loadManifests } from '../../../agent/src/sources/manifests/load.ts';
import { describePrivileged } from '../../support/privileged.ts';
import {
  type TestCluster,
  type TransferResult,
  testCluster,
  transferClient,
} from '../../support/sandbox.ts';

const NS = ['x', 'y', 'z'];
const PODS = ['a', 'b', 'c'];
const PORTS = [80, 81];

const namespaces = NS.map(
  (n) => `apiVersion: v1
kind: Namespace
metadata: {name: ${n}, labels: {team: ${n}${n === 'z' ? '' : ', weft.dev/mesh: enabled'}}}
`,
).join('---\n');

const pods = NS.flatMap((n, i) =>
  PODS.map(
    (p, j) => `apiVersion: v1
kind: Pod
metadata: {name: ${p}, namespace: ${n}, labels: {pod: ${p}}}
spec:
  nodeName: node-${((i + j) % 2) + 1}
  serviceAccountName: ${p}
  containers: [{name: s, ports: [{name: serve-80, containerPort: 80}, {containerPort: 81}]}]
`,
  ),
).join('---\n');

const policies = `
# x: only pods labelled pod=a, from any namespace, may reach x, and only on port 80 (named).
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: x-from-a-80, namespace: x}
spec:
  podSelector: {}
  ingress:
  - from: [{namespaceSelector: {}, podSelector: {matchLabels: {pod: a}}}]
    ports: [{port: serve-80}]
---
# y/c: from x/b only (namespace AND pod), any port.
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: yc-from-xb, namespace: y}
spec:
  podSelector: {matchLabels: {pod: c}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {team: x}}, podSelector: {matchLabels: {pod: b}}}]
---
# y/a: from the pod range except x/c, or from namespace z (OR of two peers).
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ya-block, namespace: y}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from:
    - ipBlock: {cidr: 10.244.0.0/16, except: [XC_IP/32]}
    - namespaceSelector: {matchLabels: {team: z}}
---
# y/b: may connect only to namespace x on port 80-80 (endPort), and to z on any port.
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: yb-egress, namespace: y}
spec:
  podSelector: {matchLabels: {pod: b}}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {matchLabels: {team: x}}}]
    ports: [{port: 80, endPort: 80}]
  - to: [{namespaceSelector: {matchLabels: {team: z}}}]
---
# x/a: never from y's pod c.
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: xa-not-yc, namespace: x}
spec:
  selector: {matchLabels: {pod: a}}
  action: DENY
  rules:
  - from: [{source: {principals: ["cluster.local/ns/y/sa/c"]}}]
---
# y/b: only mesh peers of namespace x or y.
apiVersion: security.weft.dev/v1alpha1
kind: AuthorizationPolicy
metadata: {name: yb-from-xy, namespace: y}
spec:
  selector: {matchLabels: {pod: b}}
  rules:
  - from: [{source: {namespaces: ["x", "y"]}}]
`;

const sink = `
import net from 'node:net';
for (const port of [80, 81]) {
  net.createServer({ allowHalfOpen: true }, (s) => {
    let n = 0;
    s.on('data', (d) => { n += d.length; });
    s.on('end', () => s.end(JSON.stringify({ bytes: n })));
    s.on('error', () => {});
  }).listen(port, '0.0.0.0', () => { if (port === 81) console.log('listening'); });
}
`;

describePrivileged('policy matrix: 3 namespaces × 3 pods × 2 ports', () => {
  let c: TestCluster;
  const keys = NS.flatMap((n) => PODS.map((p) => `${n}/${p}`));

  beforeAll(async () => {
    c = await testCluster('x', { 'ns.yaml': namespaces, 'pods.yaml': pods });
    c.write('policies.yaml', policies.replace('XC_IP', c.pod('x/c').ip));
    for (const k of keys) await c.serve(k, sink);
    // Every mesh pod holds a certificate and the policies are in force on both nodes.
    await c.certificates(6);
    await new Promise((r) => setTimeout(r, 1000));
  }, 120_000);
  afterAll(async () => {
    expect(await c?.down()).toEqual([]);
  });

  it('agrees with policy trace for every pair and port', async () => {
    const m = loadManifests([c.sandbox.state.resolvedDir]);
    expect(m.errors).toEqual([]);
    const mismatches: string[] = [];
    const counts = { allow: 0, deny: 0 };
    for (const from of keys) {
      for (const to of keys) {
        if (from === to) continue;
        for (const port of PORTS) {
          const r = lastJson<TransferResult>(
            await runInPod(c.pod(from), transferClient(c.pod(to).ip, port, 64), 20_000),
          );
          const did = r.reply?.bytes === 64 ? 'allow' : 'deny';
          const t = tracePolicy({
            cluster: m.cluster,
            trustDomain: 'cluster.local',
            rootNamespace: 'weft-system',
            from,
            to,
            port,
          });
          counts[did]++;
          if (did !== t.verdict) {
            const decided = t.stages
              .filter((s) => s.result === 'deny')
              .map((s) => `${s.stage}: ${s.reason}`);
            mismatches.push(
              `${from} → ${to}:${port}: traffic ${did} (${r.error ?? 'ok'}), trace ${t.verdict} ${decided.join(' | ')}`,
            );
          }
        }
      }
    }
    expect(mismatches).toEqual([]);
    // The matrix exercises both outcomes in earnest.
    expect(counts.allow).toBeGreaterThan(20);
    expect(counts.deny).toBeGreaterThan(20);
  }, 300_000);
});
