// Connections per second from the client (node-1) to the server (node-2),
// with no policy and with NetworkPolicies that install more than 1,000 entries
// in the client's egress map and in the server's ingress map. Rounds
// alternate (none, policies, none, ...) so both see the same machine; the
// entries are counted in the pinned maps before each measured round.
import { lastJson, runInPod } from '../agent/src/sandbox/exec.ts';
import { type PolicyBench, sleep, stats } from './policy-sandbox.ts';

const PER_POLICY = 100;

/** New connections one after another for ms milliseconds (connect, one byte each way, close); prints {count, seconds}. */
const connectLoop = (host: string, ms: number) => `
import net from 'node:net';
const t0 = performance.now(); let count = 0;
const next = () => {
  if (performance.now() - t0 > ${ms}) { console.log(JSON.stringify({ count, seconds: (performance.now() - t0) / 1000 })); return; }
  const s = net.connect({ host: '${host}', port: 9000, noDelay: true }, () => s.write('x'));
  s.once('data', () => { count++; s.destroy(); next(); });
  s.on('error', (e) => { console.log(JSON.stringify({ error: e.code })); });
};
next();
`;

/**
 * `policies` NetworkPolicies per direction of PER_POLICY /32 ipBlocks each
 * (addresses no pod has), and last (by name) the ones that let the client in:
 * every connection is checked against all of them before one allows it.
 */
export function manyPolicies(count: number, serverIP: string): string {
  const docs: string[] = [];
  const block = (base: number, k: number) =>
    Array.from(
      { length: PER_POLICY },
      (_, j) => `{ipBlock: {cidr: 10.${base}.${k}.${j + 1}/32}}`,
    ).join(', ');
  for (let k = 0; k < count; k++) {
    docs.push(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress-${String(k).padStart(3, '0')}, namespace: bench}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress: [{to: [${block(200, k)}], ports: [{port: 9000}]}]
`);
    docs.push(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ingress-${String(k).padStart(3, '0')}, namespace: bench}
spec:
  podSelector: {matchLabels: {app: server}}
  policyTypes: [Ingress]
  ingress: [{from: [${block(201, k)}], ports: [{port: 9000}]}]
`);
  }
  docs.push(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: zz-egress-server, namespace: bench}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: ${serverIP}/32}}], ports: [{port: 9000}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: zz-ingress-client, namespace: bench}
spec:
  podSelector: {matchLabels: {app: server}}
  policyTypes: [Ingress]
  ingress: [{from: [{podSelector: {matchLabels: {app: client}}}], ports: [{port: 9000}]}]
`);
  return docs.join('---\n');
}

export interface RateResult {
  none: number[];
  withPolicies: number[];
  entries: { egress: number; ingress: number };
  ratio: number;
  errors: string[];
}

export async function measureRate(
  b: PolicyBench,
  rounds: number,
  ms: number,
  policies = 10,
): Promise<RateResult> {
  const server = b.pod('server');
  const yaml = manyPolicies(policies, server.ip);
  const want = policies * PER_POLICY;
  const out: RateResult = {
    none: [],
    withPolicies: [],
    entries: { egress: 0, ingress: 0 },
    ratio: Number.NaN,
    errors: [],
  };
  const settle = async (on: boolean) => {
    b.apply('many.yaml', on ? yaml : null);
    for (let i = 0; i < 1000; i++) {
      const n = b.installed();
      if (on ? n.egress > want && n.ingress > want : n.egress === 0 && n.ingress === 0) return n;
      await sleep(20);
    }
    throw new Error(
      `the maps never ${on ? 'filled' : 'emptied'}: ${JSON.stringify(b.installed())}`,
    );
  };
  try {
    for (let r = 0; r < rounds * 2; r++) {
      const on = r % 2 === 1;
      const n = await settle(on);
      if (on) out.entries = n;
      await sleep(300);
      const res = lastJson<{ count: number; seconds: number; error?: string }>(
        await runInPod(b.pod('client'), connectLoop(server.ip, ms), ms + 30_000),
      );
      if (res.error) out.errors.push(`${on ? 'with policies' : 'none'}: ${res.error}`);
      (on ? out.withPolicies : out.none).push(res.error ? Number.NaN : res.count / res.seconds);
    }
  } finally {
    b.apply('many.yaml', null);
  }
  out.ratio = stats(out.withPolicies).median / stats(out.none).median;
  return out;
}
