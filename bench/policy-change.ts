// One policy change, from the file written to the first real connection that
// gets the new verdict. A probe in the client pod connects to the server about
// once a millisecond and prints each change of outcome with its time; the
// bench times the steps in between: the sandbox controller's copy into the
// directory the agents watch (the file's mtime), the kernel map flip (the
// client's `enrolled` flags, polled every millisecond) or the agent's new
// snapshot (its status), then the probe's first new outcome.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { spawnInPod } from '../agent/src/sandbox/exec.ts';
import { now, type PolicyBench, sleep } from './policy-sandbox.ts';

/** Connects, sends a byte, waits for the echo; prints {t, ok, code} when the outcome changes. */
const probe = (host: string) => `
import net from 'node:net';
const now = () => performance.timeOrigin + performance.now();
let last = null;
const report = (ok, code) => {
  if (ok === last) return;
  last = ok;
  console.log(JSON.stringify({ t: now(), ok, code }));
};
const next = () => {
  const s = net.connect({ host: '${host}', port: 9000, noDelay: true }, () => s.write('x'));
  let done = false;
  const end = (ok, code) => { if (done) return; done = true; s.destroy(); report(ok, code); setTimeout(next, 1); };
  s.once('data', () => end(true));
  s.once('error', (e) => end(false, e.code));
  s.once('close', () => end(false, 'closed'));
  s.setTimeout(2000, () => end(false, 'timeout'));
};
next();
`;

export interface ChangeSample {
  /** write → the controller's copy lands in the agents' directory */
  copied: number;
  /** copy → the agent's change is in force (map flipped, or new snapshot for authz) */
  agent: number;
  /** in force → the probe's first connection with the new outcome */
  seen: number;
  /** write → the probe's first connection with the new outcome */
  total: number;
  /** whether the change let the client in (else it shut it out) */
  toAllow: boolean;
}

const egressDeny = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: client-egress, namespace: bench}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8, except: [SERVER/32]}}], ports: [{port: 9000}]}]
`;
const egressAllow = egressDeny.replace(', except: [SERVER/32]', '');

const authzDeny = `apiVersion: security.weft.dev/v1alpha1
kind: AuthorizationPolicy
metadata: {name: server-authz, namespace: bench}
spec:
  selector: {matchLabels: {app: server}}
  action: DENY
  rules: [{from: [{source: {principals: [cluster.local/ns/bench/sa/client]}}]}]
`;
const authzAllow = authzDeny
  .replace('action: DENY', 'action: ALLOW')
  .replace('sa/client]', 'sa/client, cluster.local/ns/bench/sa/other]');

/** The two versions of the changed file: [deny, allow] for the client's connections. */
export function variants(
  kind: 'NetworkPolicy' | 'AuthorizationPolicy',
  serverIP: string,
): [string, string] {
  return kind === 'NetworkPolicy'
    ? [egressDeny.replace('SERVER', serverIP), egressAllow]
    : [authzDeny, authzAllow];
}

/**
 * `changes` policy edits, alternating deny and allow, of one kind; each waits
 * until the probe has seen it, then lets things settle before the next.
 */
export async function measureChanges(
  b: PolicyBench,
  kind: 'NetworkPolicy' | 'AuthorizationPolicy',
  changes: number,
): Promise<ChangeSample[]> {
  const file = kind === 'NetworkPolicy' ? 'np-change.yaml' : 'authz-change.yaml';
  const server = b.pod('server').ip;
  const [deny, allow] = variants(kind, server);
  const child = spawnInPod(b.pod('client'), probe(server));
  const seen: { t: number; ok: boolean }[] = [];
  const lines = createInterface({ input: child.stdout! });
  lines.on('line', (l) => {
    try {
      seen.push(JSON.parse(l));
    } catch {
      // not a probe line
    }
  });
  const resolved = join(b.sandbox.state.resolvedDir, 'policies', file);
  const out: ChangeSample[] = [];
  try {
    // Start from "allowed", with the file in place.
    b.apply(file, allow);
    await until(() => seen.at(-1)?.ok === true, 10_000, 'the probe never got through');
    await sleep(500);
    for (let i = 0; i < changes; i++) {
      const wantOk = i % 2 === 1;
      const beforeFlags = b.clientFlags();
      const beforeVersion = await b.snapshotVersion('node-2');
      const t0 = b.apply(file, wantOk ? allow : deny);
      let inForce = Number.NaN;
      if (kind === 'NetworkPolicy') {
        // The generation bit flips in the same map update that makes the new table live.
        await until(() => b.clientFlags() !== beforeFlags, 5000, 'the egress map never flipped');
        inForce = now();
      } else {
        await untilAsync(
          async () => (await b.snapshotVersion('node-2')) > beforeVersion,
          5000,
          'node-2 never took the new policy',
          5,
        );
        inForce = now();
      }
      await until(
        () => seen.some((s) => s.t > t0 && s.ok === wantOk),
        5000,
        `the probe never saw the ${wantOk ? 'allow' : 'deny'}`,
      );
      const t = seen.find((s) => s.t > t0 && s.ok === wantOk)!.t;
      const copied = statSync(resolved).mtimeMs;
      out.push({
        copied: copied - t0,
        agent: inForce - copied,
        seen: Math.max(0, t - inForce),
        total: t - t0,
        toAllow: wantOk,
      });
      await sleep(400);
    }
  } finally {
    child.kill('SIGKILL');
    b.apply(file, null);
  }
  return out;
}

async function until(f: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(1);
  }
}

async function untilAsync(
  f: () => Promise<boolean>,
  ms: number,
  what: string,
  every: number,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(every);
  }
}
