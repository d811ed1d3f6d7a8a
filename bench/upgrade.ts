// make bench (agent upgrade part), also runnable alone (`node bench/upgrade.ts`): how
// long a handover takes, from the new agent's start to the old agent's exit, on a
// node with no traffic and on one with open connections (WEFT_BENCH_UPGRADE_CONNS,
// default 1,000: half to a pod on the same node, half plaintext to a pod outside the
// mesh, all in the kernel relay, so they move rather than drain), and the longest
// stall an open connection sees meanwhile (a message each every 100 ms, echoed).
// Writes docs/benchmarks-upgrade.md and the "Agent upgrade" section of
// docs/benchmarks.md (bench/upgrade-report.ts).
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnInPod } from '../agent/src/sandbox/exec.ts';
import { teardown } from '../agent/src/sandbox/sandbox.ts';
import { type TestCluster, testCluster } from '../test/support/sandbox.ts';
import { docs, namespace, pod } from '../test/support/shop.ts';
import { echoServer, type LoadResult, loadClient } from '../test/support/upgrade-load.ts';
import { currentLoad, describeMachine } from './machine.ts';
import { benchCleanup } from './teardown.ts';
import { type UpgradeFigures, upgradeMarkdown, withUpgradeSection } from './upgrade-report.ts';

const CONNS = Number(process.env.WEFT_BENCH_UPGRADE_CONNS ?? 1000);
const ROUNDS = Number(process.env.WEFT_BENCH_ROUNDS ?? 3);
const MESSAGE_MS = 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const manifests = docs(
  namespace('shop', 'weft.dev/mesh: enabled'),
  namespace('outside'),
  pod('shop', 'client', 'node-1'),
  pod('shop', 'near', 'node-1', { ports: '{containerPort: 8080}' }),
  pod('outside', 'plain', 'node-2', { ports: '{containerPort: 8080}' }),
);

async function withLoad(c: TestCluster): Promise<{ ms: number; res: LoadResult }> {
  const half = Math.ceil(CONNS / 2);
  const targets = [
    { name: 'same-node', host: c.pod('shop/near').ip, port: 8080, count: half },
    { name: 'plaintext', host: c.pod('outside/plain').ip, port: 8080, count: CONNS - half },
  ];
  const p = spawnInPod(c.pod('shop/client'), loadClient(targets, MESSAGE_MS, 200));
  let out = '';
  p.stdout!.on('data', (d) => {
    out += d;
  });
  try {
    for (let i = 0; i < 1200 && !out.includes('ready'); i++) {
      if (p.exitCode !== null) throw new Error(`load client exited: ${out}`);
      await sleep(50);
    }
    if (!out.includes('ready')) throw new Error(`load client not ready: ${out}`);
    await sleep(1000);
    const r = await c.sandbox.restartAgent('node-1');
    await sleep(1000);
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await exited;
    return { ms: r.handoverMs, res: JSON.parse(out.trim().split('\n').pop()!) as LoadResult };
  } finally {
    p.kill('SIGKILL');
  }
}

async function main(): Promise<void> {
  const machine = describeMachine();
  // The sandbox (agents, pod programs, netns, cgroups, pins) goes also on a signal;
  // testCluster names it by letter and pid.
  const cleanup = benchCleanup();
  cleanup.add('sandbox', () => teardown(`bu${process.pid}`));
  const c = await testCluster('bu', { 'm.yaml': manifests }, 2, {
    agentArgs: ['--drain-grace', '30'],
  });
  cleanup.add('manifests', () => rmSync(c.manifests, { recursive: true, force: true }));
  const figures: UpgradeFigures = {
    machine,
    conns: CONNS,
    messageMs: MESSAGE_MS,
    idleMs: [],
    loaded: [],
  };
  try {
    await c.certificates(1);
    for (const k of ['shop/near', 'outside/plain']) await c.serve(k, echoServer(8080));
    for (let i = 0; i < ROUNDS; i++) {
      figures.idleMs.push((await c.sandbox.restartAgent('node-1')).handoverMs);
      process.stderr.write(`upgrade: no traffic ${Math.round(figures.idleMs.at(-1)!)} ms\n`);
    }
    for (let i = 0; i < ROUNDS; i++) {
      const { ms, res } = await withLoad(c);
      const opened = Object.values(res.opened).reduce((a, b) => a + b, 0);
      const broken = Object.values(res.broken).reduce((a, b) => a + b.length, 0);
      figures.loaded.push({
        ms,
        opened,
        broken,
        refused: res.fresh.failed,
        stallMs: Math.max(0, ...Object.values(res.stallMs)),
      });
      process.stderr.write(
        `upgrade: ${opened} connections ${JSON.stringify(figures.loaded.at(-1))}\n`,
      );
    }
  } finally {
    const keep = process.env.WEFT_KEEP_LOGS;
    if (keep)
      for (const n of c.sandbox.state.nodes) cpSync(n.log, join(keep, `upgrade-${n.name}.log`));
    await c.down();
    cleanup.dispose();
  }
  machine.loadEnd = currentLoad();
  const d = join(import.meta.dirname, '..', 'docs');
  const md = upgradeMarkdown(figures);
  writeFileSync(join(d, 'benchmarks-upgrade.md'), md);
  const main = join(d, 'benchmarks.md');
  writeFileSync(main, withUpgradeSection(readFileSync(main, 'utf8'), md));
  process.stdout.write(md);
}

await main();
