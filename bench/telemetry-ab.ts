// What a connection's telemetry costs: new connections per second through the
// mesh (client on node-1 to server on node-2 over HBONE, and a server on the same
// node through the in-process hand-off), with this tree's agents and with the
// agents of another tree (default: where this branch left main, so that only this
// branch's changes differ; exported to a temporary directory and run with this
// tree's node_modules and build, whose BPF objects must match its layout). Rounds
// alternate (A, B, A, B) so both see the same machine.
//   node bench/telemetry-ab.ts [rounds] [seconds]     (WEFT_AB_REF=<git ref>)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastJson, runInPod, spawnInPod } from '../agent/src/sandbox/exec.ts';

const rounds = Number(process.argv[2] ?? 2);
const seconds = Number(process.argv[3] ?? 5);
const here = new URL('..', import.meta.url).pathname;
const ref =
  process.env.WEFT_AB_REF ??
  execFileSync('git', ['-C', here, 'merge-base', 'HEAD', 'main'], { encoding: 'utf8' })
    .trim()
    .slice(0, 10);

const manifests = `apiVersion: v1
kind: Namespace
metadata: {name: bench, labels: {weft.dev/mesh: enabled}}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: bench, labels: {app: client}}
spec: {nodeName: node-1, serviceAccountName: client, containers: [{name: app}]}
---
apiVersion: v1
kind: Pod
metadata: {name: far, namespace: bench, labels: {app: far}}
spec: {nodeName: node-2, serviceAccountName: far, containers: [{name: app}]}
---
apiVersion: v1
kind: Pod
metadata: {name: near, namespace: bench, labels: {app: near}}
spec: {nodeName: node-1, serviceAccountName: near, containers: [{name: app}]}
`;

const echo = `
import net from 'node:net';
net.createServer({ noDelay: true }, (s) => { s.pipe(s); s.on('error', () => {}); })
  .listen(9000, '0.0.0.0', () => console.log('listening'));
`;

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

/** The other tree: `git archive` of ref, sharing this tree's node_modules, build and tools. */
function otherTree(): string {
  const dir = mkdtempSync(join(tmpdir(), 'weft-ab-'));
  execFileSync('sh', ['-c', `git -C '${here}' archive '${ref}' | tar -x -C '${dir}'`]);
  for (const d of ['node_modules', 'build', '.tools']) symlinkSync(join(here, d), join(dir, d));
  return dir;
}

interface Result {
  far: number;
  near: number;
}

async function measure(tree: string, name: string): Promise<Result> {
  const { Sandbox, teardown } = (await import(
    join(tree, 'agent/src/sandbox/sandbox.ts')
  )) as typeof import('../agent/src/sandbox/sandbox.ts');
  teardown(name);
  const dir = mkdtempSync(join(tmpdir(), 'weft-ab-m-'));
  writeFileSync(join(dir, 'cluster.yaml'), manifests);
  const sandbox = await Sandbox.up({ name, nodes: 2, manifests: dir });
  const pod = (key: string) => {
    const p = sandbox.state.pods.find((x) => x.key === `bench/${key}`)!;
    return { netnsPath: p.netns, cgroupDir: p.cgroup, ip: p.ip };
  };
  const servers = ['far', 'near'].map((k) => spawnInPod(pod(k), echo));
  try {
    await new Promise((r) => setTimeout(r, 1500)); // servers listening, certificates issued
    const rate = async (to: string) => {
      const r = lastJson<{ count: number; seconds: number }>(
        await runInPod(
          pod('client'),
          connectLoop(pod(to).ip, seconds * 1000),
          seconds * 1000 + 20_000,
        ),
      );
      return r.count / r.seconds;
    };
    await rate('far'); // warm-up (JIT, HBONE session)
    return { far: await rate('far'), near: await rate('near') };
  } finally {
    for (const s of servers) s.kill('SIGKILL');
    await sandbox.down();
    rmSync(dir, { recursive: true, force: true });
  }
}

const other = otherTree();
const results: { tree: string; far: number; near: number }[] = [];
try {
  for (let i = 0; i < rounds; i++) {
    for (const [label, tree, name] of [
      [ref, other, 'abref'],
      ['this tree', here, 'abthis'],
    ] as const) {
      const r = await measure(tree, name);
      results.push({ tree: label, ...r });
      console.log(
        `${label.padEnd(10)} HBONE ${r.far.toFixed(0).padStart(5)} conn/s   same node ${r.near.toFixed(0).padStart(5)} conn/s`,
      );
    }
  }
} finally {
  rmSync(other, { recursive: true, force: true });
}
const mean = (t: string, k: 'far' | 'near') => {
  const xs = results.filter((r) => r.tree === t).map((r) => r[k]);
  return xs.reduce((a, b) => a + b, 0) / xs.length;
};
for (const k of ['far', 'near'] as const) {
  const a = mean(ref, k);
  const b = mean('this tree', k);
  console.log(
    `${k === 'far' ? 'HBONE    ' : 'same node'}: ${ref} ${a.toFixed(0)}, this tree ${b.toFixed(0)} conn/s (${(((b - a) / a) * 100).toFixed(1)}%)`,
  );
}
