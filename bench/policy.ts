// make bench (policy part): compile time of the NetworkPolicy tables for a
// large synthetic cluster, measured on this machine. Pure code, no root.
// Writes docs/benchmarks-policy.md.
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { compilePeerTable } from '../agent/src/compile/netpol.ts';
import { compilePolicy } from '../agent/src/compile/policy.ts';
import type { NetworkPolicy } from '../agent/src/policy/netpol-types.ts';
import type { Namespace, Pod, Snapshot } from '../agent/src/state/types.ts';

const PODS = Number(process.env.WEFT_BENCH_POLICY_PODS ?? 5000);
const POLICIES = Number(process.env.WEFT_BENCH_POLICIES ?? 500);
const NAMESPACES = 50;

function cluster(): Snapshot {
  const namespaces = new Map<string, Namespace>();
  for (let n = 0; n < NAMESPACES; n++)
    namespaces.set(`ns${n}`, { name: `ns${n}`, labels: { team: `t${n % 10}` } });
  const pods = new Map<string, Pod>();
  for (let i = 0; i < PODS; i++) {
    const ns = `ns${i % NAMESPACES}`;
    pods.set(`${ns}/p${i}`, {
      namespace: ns,
      name: `p${i}`,
      labels: { app: `a${i % 40}`, tier: i % 3 === 0 ? 'db' : 'web' },
      annotations: {},
      serviceAccountName: 'default',
      nodeName: `node-${i % 50}`,
      ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
      podIP: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    });
  }
  const networkPolicies = new Map<string, NetworkPolicy>();
  for (let k = 0; k < POLICIES; k++) {
    const ns = `ns${k % NAMESPACES}`;
    networkPolicies.set(`${ns}/np${k}`, {
      namespace: ns,
      name: `np${k}`,
      podSelector: { matchLabels: { app: `a${k % 40}` } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        {
          peers: [
            {
              namespaceSelector: { matchLabels: { team: `t${k % 10}` } },
              podSelector: { matchLabels: { tier: 'web' } },
            },
          ],
          ports: [{ protocol: 'TCP', port: 8080 }],
        },
      ],
      egress: [
        {
          peers: [{ podSelector: { matchLabels: { tier: 'db' } } }],
          ports: [{ protocol: 'TCP', port: 5432 }],
        },
        {
          peers: [{ ipBlock: { cidr: '10.0.0.0/8', except: [`10.0.${k % 256}.0/24`] } }],
          ports: [{ protocol: 'TCP', port: 443 }],
        },
      ],
    });
  }
  return {
    version: 1,
    namespaces,
    pods,
    services: new Map(),
    networkPolicies,
    authorizationPolicies: new Map(),
  };
}

function time<T>(fn: () => T): [T, number] {
  const t0 = performance.now();
  const r = fn();
  return [r, performance.now() - t0];
}

const snap = cluster();
const node = [...snap.pods.values()].filter((p) => p.nodeName === 'node-0');
const [, proxyMs] = time(() => compilePolicy(snap, 'cluster.local', 'weft-system'));
const [entries, nodeMs] = time(() =>
  node.reduce(
    (n, p) =>
      n +
      compilePeerTable(snap, p.namespace, p.labels, 'egress').entries.size +
      compilePeerTable(snap, p.namespace, p.labels, 'ingress', p.ports).entries.size,
    0,
  ),
);
const doc = `# Policy benchmarks

Written by \`make bench\` (bench/policy.ts) on ${new Date().toISOString().slice(0, 10)}, on ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}.

A synthetic cluster: ${PODS} pods in ${NAMESPACES} namespaces on 50 nodes, ${POLICIES} NetworkPolicies
(each with an ingress rule of namespace AND pod selectors on one port, and two egress rules:
a pod selector on one port and an ipBlock with an except on another).

| what | time |
| --- | ---: |
| proxy policy tables for the whole cluster (once per snapshot) | ${proxyMs.toFixed(0)} ms |
| kernel tables (egress + plaintext ingress) for one node's ${node.length} pods | ${nodeMs.toFixed(0)} ms (${entries} LPM entries) |

Target (issue 5): compile 5,000 pods × 500 policies in ≤ 1 s. A node compiles only its own
pods' tables; the figure above is for one node of 50. Not measured yet: the time from a
policy change to enforcement, and connections per second with 1,000 entries installed.
`;
process.stdout.write(doc);
writeFileSync(new URL('../docs/benchmarks-policy.md', import.meta.url), doc);
