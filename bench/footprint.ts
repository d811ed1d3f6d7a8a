// make bench-footprint: what the agent costs in memory and per new connection.
// Per variant (a sandbox whose agents run with the variant's environment; all up
// at once, rounds interleaved): the agents' RSS idle, under load, holding many
// open idle connections (half over HBONE to node-2, half to a pod of node-1
// through the in-process hand-off), and with stalled readers; new connections
// per second through the mesh against the direct path, with the agents' CPU per
// connection; then (first variant) 200 pods enrolled at once on node-1 (time to enrolled, RSS,
// reconcile of one pod change). With WEFT_FOOTPRINT_PROFILE=1 the agents are
// profiled (bench/inspector-profile.ts) during connection tests, and the profiles summarised.
// Writes docs/benchmarks-footprint.md (not when profiling). WEFT_FOOTPRINT_ONLY=memory
// measures only memory: the agents idle, after WEFT_BENCH_ROUNDS rounds (0: none, then
// no traffic at all), and with the pods enrolled in steps; no peers, about a minute
// without rounds; it prints the readings and writes no docs.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchStatus } from '../agent/src/admin/client.ts';
import { spawnInPod } from '../agent/src/sandbox/exec.ts';
import { type CpuProfile, summarise } from './cpu-profile.ts';
import { FootprintBox, scaleManifests, type Variant } from './footprint-box.ts';
import { type PeerRound, Peers, peersDir } from './footprint-peers.ts';
import { holdClient, stallClient } from './footprint-programs.ts';
import { type FootprintRound, renderFootprint, type ScaleResult } from './footprint-report.ts';
import { agentMemory } from './inspector-memory.ts';
import { startProfile } from './inspector-profile.ts';
import { currentLoad, describeMachine } from './machine.ts';
import { killAllInPods } from './pod-exec.ts';
import { bulkClient } from './pod-programs.ts';
import { withSection } from './sections.ts';
import { benchCleanup, benchTempDir } from './teardown.ts';

const say = (line: string) => process.stderr.write(`footprint: ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const num = (name: string, def: number) => {
  const raw = process.env[name] ?? String(def);
  if (!/^\d+$/.test(raw)) throw new Error(`${name}=${raw}: expected a whole number`);
  return Number(raw);
};

let idleNote = '';
const memoryOnlyRun = onlyMemory(process.env.WEFT_FOOTPRINT_ONLY);
const cfg = {
  rounds: num('WEFT_BENCH_ROUNDS', memoryOnlyRun ? 0 : 3),
  connectMs: num('WEFT_BENCH_CONNECT_MS', 2000),
  idle: num('WEFT_FOOTPRINT_IDLE', 10_000),
  stalled: num('WEFT_FOOTPRINT_STALLED', 100),
  pods: num('WEFT_FOOTPRINT_PODS', 200),
  profile: process.env.WEFT_FOOTPRINT_PROFILE === '1',
  memoryOnly: memoryOnlyRun,
  /** With memoryOnly: read each agent's heap after a full collection too (its inspector). */
  heap: process.env.WEFT_FOOTPRINT_HEAP === '1',
};

function onlyMemory(raw: string | undefined): boolean {
  if (raw === undefined || raw === '') return false;
  if (raw === 'memory') return true;
  throw new Error(`WEFT_FOOTPRINT_ONLY=${raw}: expected 'memory'`);
}

/** Variants by name; WEFT_FOOTPRINT_VARIANTS picks some (default: the agent as it is). */
const VARIANTS: Record<string, Variant> = {
  now: { id: 'now', what: "the agent's settings", env: {} },
  'v8-defaults': {
    id: 'v8-defaults',
    what: "V8's default heap settings",
    env: { WEFT_AGENT_NODE_FLAGS: '' },
  },
  'old-heap': {
    id: 'old-heap',
    what: "the former heap flags (V8's own young generation, up to tens of MiB)",
    env: {
      WEFT_AGENT_NODE_FLAGS:
        '--initial-old-space-size=128 --external-memory-accounted-in-global-limit',
    },
  },
  'no-kernel-relay': {
    id: 'no-kernel-relay',
    what: 'no kernel relay (WEFT_KERNEL_RELAY=0: JavaScript joins every socket pair)',
    env: { WEFT_KERNEL_RELAY: '0' },
  },
  sources: {
    id: 'sources',
    what: 'the agent run from its TypeScript sources, not the bundle (WEFT_AGENT_SOURCES=1)',
    env: { WEFT_AGENT_SOURCES: '1' },
  },
  'no-memory-return': {
    id: 'no-memory-return',
    what: 'no memory given back when quiet (WEFT_MEMORY_RETURN=0)',
    env: { WEFT_MEMORY_RETURN: '0' },
  },
  'glibc-arenas': {
    id: 'glibc-arenas',
    what: "glibc's default malloc arenas (8 per core) instead of the agent's 2 (MALLOC_ARENA_MAX)",
    env: { MALLOC_ARENA_MAX: String(8 * availableParallelism()) },
  },
  'semi-4': {
    id: 'semi-4',
    what: 'semi-spaces of up to 4 MiB instead of the 2 MiB of the agent (--max-semi-space-size=4)',
    env: {
      WEFT_AGENT_NODE_FLAGS:
        '--initial-old-space-size=128 --external-memory-accounted-in-global-limit --max-semi-space-size=4',
    },
  },
  'hwm-1m': {
    id: 'hwm-1m',
    what: 'the former 1 MiB stream high-water mark',
    env: { WEFT_STREAM_HIGH_WATER_MARK: String(1024 * 1024) },
  },
};

function pickVariants(): Variant[] {
  const raw = process.env.WEFT_FOOTPRINT_VARIANTS?.trim();
  if (!raw) return [VARIANTS.now!];
  return raw.split(',').map((id) => {
    const v = VARIANTS[id.trim()];
    if (!v) {
      throw new Error(
        `WEFT_FOOTPRINT_VARIANTS: unknown variant '${id}' (${Object.keys(VARIANTS).join(', ')})`,
      );
    }
    return v;
  });
}

/**
 * How long the agents are left alone before an idle reading: two of their quiet checks
 * (agent/src/agent/memory.ts), so memory given back when quiet shows in it.
 */
const QUIET_MS = 22_000;

/**
 * Open files node-1's agent needs per idle connection of the mix: an HBONE one is its
 * client socket (streams share sessions); a same-node one is its two sockets (the kernel
 * relay holds a pipe only while bytes sit in it: native/src/relay.cc).
 */
const FDS_PER_IDLE = (1 + 2) / 2;

/**
 * Raises this process's open-file limit to its hard limit (the agents and pod programs
 * inherit it); returns how many idle connections fit within it, at most `want`.
 */
function raiseFdLimit(want: number): number {
  const m = /^Max open files\s+\d+\s+(\d+|unlimited)/m.exec(
    readFileSync('/proc/self/limits', 'utf8'),
  );
  const hard = m?.[1] === 'unlimited' ? 1 << 20 : Number(m?.[1] ?? 1024);
  execFileSync('prlimit', [`--pid=${process.pid}`, `--nofile=${hard}:${hard}`]);
  const fit = Math.floor((hard - 2000 - cfg.stalled * 2) / FDS_PER_IDLE / 1000) * 1000;
  return Math.max(0, Math.min(want, fit));
}

/** Samples the largest agent's RSS every 100 ms while fn runs; returns fn's value and the peak. */
async function peakRss<T>(box: FootprintBox, fn: () => Promise<T>): Promise<[T, number]> {
  let peak = 0;
  const sample = () => {
    peak = Math.max(peak, ...box.rssMiB());
  };
  const timer = setInterval(sample, 100);
  try {
    const v = await fn();
    sample();
    return [v, peak];
  } finally {
    clearInterval(timer);
  }
}

const connects = (box: FootprintBox, client: string, server: string) =>
  box.connects(client, server, cfg.connectMs);

const inPod = <T extends { error?: string }>(
  box: FootprintBox,
  pod: string,
  script: string,
  ms: number,
) => box.inPod<T>(pod, script, ms);

/** Starts a holding client; resolves with its report once its connections are in place. */
async function hold<T>(box: FootprintBox, pod: string, script: string, ms: number) {
  const child = spawnInPod(box.placement(pod), script);
  let out = '';
  const report = await new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${pod}: no report within ${ms} ms`)), ms);
    child.stdout?.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line) as T);
      }
    });
    child.on('exit', (c) => {
      clearTimeout(timer);
      reject(new Error(`${pod}: holding client exited (${c})`));
    });
  });
  return { report, stop: () => child.kill('SIGKILL') };
}

async function round(box: FootprintBox): Promise<FootprintRound> {
  const errors: string[] = [];
  const base = await box.openConnections();
  // Load: a bulk transfer over HBONE and the connection tests, the RSS peak over them.
  const [c, loadPeak] = await peakRss(box, async () => {
    await inPod(box, 'client', bulkClient(box.pod('remote').ip, 2000), 40_000).catch((e: Error) =>
      errors.push(`bulk: ${e.message}`),
    );
    return {
      direct: await connects(box, 'dclient', 'dremote'),
      hbone: await connects(box, 'client', 'remote'),
      node: await connects(box, 'client', 'local'),
    };
  });
  await box.drainTo(base);
  // What the load left is given back once the agents are quiet (memory.ts): the growth per
  // idle connection is measured from there, not from the load's leftovers.
  await sleep(QUIET_MS);
  const before = box.rssMiB();
  // Open idle connections, half over HBONE, half through the same-node hand-off.
  const half = cfg.idle >> 1;
  const h = await hold<{ open: number; failed: number; errors: Record<string, number> }>(
    box,
    'client',
    holdClient([
      { host: box.pod('remote').ip, port: 9000, count: half },
      { host: box.pod('local').ip, port: 9000, count: cfg.idle - half },
    ]),
    300_000,
  );
  await sleep(2000);
  const holdingFirst = box.rssMiB();
  // An agent holding idle connections is quiet: read it as it settles, too.
  await sleep(QUIET_MS - 2000);
  const holding = box.rssMiB();
  h.stop();
  if (h.report.failed)
    errors.push(`idle: ${h.report.failed} failed ${JSON.stringify(h.report.errors)}`);
  if (!(await box.drainTo(base, 60_000)))
    errors.push('idle: the agents did not close them in 60 s');
  await sleep(1000);
  const beforeStall = box.rssMiB();
  const s = await hold<{ open: number; failed: number; bytes: number }>(
    box,
    'client',
    stallClient(box.pod('remote').ip, cfg.stalled),
    120_000,
  );
  await sleep(1000);
  const stalled = box.rssMiB();
  s.stop();
  if (!(await box.drainTo(base, 60_000)))
    errors.push('stalled: the agents did not close them in 60 s');
  return {
    variant: box.variant.id,
    loadPeakMiB: loadPeak,
    direct: c.direct,
    hbone: c.hbone,
    node: c.node,
    idleOpen: h.report.open,
    rssBeforeIdle: before,
    rssHoldingIdle: holding,
    rssHoldingIdleFirst: holdingFirst,
    stalledOpen: s.report.open,
    stalledBytes: s.report.bytes,
    rssBeforeStalled: beforeStall,
    rssStalled: stalled,
    rssAfter: box.rssMiB(),
    errors,
  };
}

/** Writes count pods on node-1 into the manifests; resolves when all are enrolled with listeners. */
async function enrollPods(box: FootprintBox, count: number): Promise<number> {
  writeFileSync(join(box.manifests, 'scale.yaml'), scaleManifests(count));
  const t0 = performance.now();
  let n = -1;
  while (n !== count && performance.now() - t0 < 180_000) {
    await sleep(250);
    n = (await fetchStatus(box.adminSocket(0))).workloads.filter(
      (w) => w.key.startsWith('scale/') && w.enrolled && w.listeners.length > 0,
    ).length;
  }
  if (n !== count) throw new Error(`${count} pods: ${n} enrolled after 180 s`);
  return (performance.now() - t0) / 1000;
}

/**
 * The memory-only run: each variant's fresh agents idle, after cfg.rounds rounds of traffic,
 * then with the pods enrolled on node-1 in two steps; RSS, anonymous memory and (WEFT_FOOTPRINT_HEAP=1) the heap after a
 * full collection. One line per reading on stdout.
 */
async function memoryOnly(boxes: FootprintBox[]): Promise<void> {
  const mib = (b: number) => (b / 1048576).toFixed(1);
  const read = async (b: FootprintBox, what: string) => {
    const f = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(' / ');
    const [rss, anon] = [f(b.rssMiB()), f(b.anonMiB())];
    let heap = '';
    if (cfg.heap) {
      const m = await agentMemory(b.agentPids()[0]!, b.nodePlacement(0));
      heap = `; node-1 after a full collection: heap used ${mib(m.heapUsed)}, external ${mib(m.external)} (array buffers ${mib(m.arrayBuffers)})`;
    }
    process.stdout.write(
      `${b.variant.id}: ${what}: RSS ${rss} MiB, anonymous ${anon} (node-1 / node-2)${heap}\n`,
    );
  };
  for (const b of boxes) await read(b, 'idle');
  for (let r = 0; r < cfg.rounds; r++) {
    for (const b of boxes) {
      const { errors, loadPeakMiB } = await round(b);
      await sleep(QUIET_MS);
      const what = `after round ${r + 1} (peak under load ${loadPeakMiB.toFixed(0)} MiB)`;
      await read(b, `${what}${errors.length ? ` (${errors.join('; ')})` : ''}`);
    }
  }
  for (const b of boxes) {
    for (const n of cfg.pods > 0 ? [cfg.pods >> 1, cfg.pods] : []) {
      const s = await enrollPods(b, n);
      await sleep(QUIET_MS);
      await read(b, `${n} pods (enrolled in ${s.toFixed(1)} s)`);
    }
  }
}

/** 200 pods on node-1 at once: time to all enrolled with listeners, RSS, reconcile of one change. */
async function scale(box: FootprintBox): Promise<ScaleResult> {
  const file = join(box.manifests, 'scale.yaml');
  const enrolled = async () =>
    (await fetchStatus(box.adminSocket(0))).workloads.filter(
      (w) => w.key.startsWith('scale/') && w.enrolled && w.listeners.length > 0,
    ).length;
  // The sandbox builds each pod's netns and veth, then writes the resolved cluster the
  // agents read: from then on the time is the agent's.
  const resolved = join(box.sbx.state.resolvedDir, 'cluster.yaml');
  const mtime = () => statSync(resolved).mtimeMs;
  const m0 = mtime();
  const wall0 = Date.now();
  const t0 = performance.now();
  writeFileSync(file, scaleManifests(cfg.pods));
  let n = 0;
  while (n < cfg.pods && performance.now() - t0 < 120_000) {
    await sleep(100);
    n = await enrolled();
  }
  const built = mtime() === m0 ? Number.NaN : (mtime() - wall0) / 1000;
  const seconds = (performance.now() - t0) / 1000;
  // Steady state: the agent has had its quiet checks since enrolling (memory.ts).
  await sleep(QUIET_MS);
  const rss = box.rssMiB();
  const changes: number[] = [];
  for (let i = 0; i < 3; i++) {
    const r0 = await box.reconcileTotals();
    const v0 = (await fetchStatus(box.adminSocket(0))).snapshotVersion;
    writeFileSync(file, scaleManifests(cfg.pods, i % 2 === 0 ? 7 : -1));
    for (let k = 0; k < 200; k++) {
      await sleep(50);
      if ((await fetchStatus(box.adminSocket(0))).snapshotVersion !== v0) break;
    }
    await sleep(300);
    const r1 = await box.reconcileTotals();
    if (r1.count > r0.count) changes.push(((r1.sum - r0.sum) / (r1.count - r0.count)) * 1000);
  }
  rmSync(file);
  return {
    variant: box.variant.id,
    pods: cfg.pods,
    enrolled: n,
    seconds,
    // When the sandbox had built the pods and written the resolved cluster.
    sandboxSeconds: built,
    rssMiB: rss,
    reconcileMs: changes,
  };
}

/** Both agents' CPU profiles while the client opens connections to server; a summary of each. */
async function profileConnects(
  box: FootprintBox,
  what: string,
  server: string,
  dir: string,
): Promise<string[]> {
  const pids = box.agentPids();
  const runs = await Promise.all(
    pids.map((pid, i) => {
      const at = box.nodePlacement(i);
      const stop = join(dir, `stop-${what}-${i}`);
      rmSync(stop, { force: true }); // a file left by an earlier run would stop it at once
      return startProfile(pid, at.netnsPath, at.cgroupDir, stop);
    }),
  );
  const c = await connects(box, 'client', server);
  const out = [
    `${what}: ${Math.round(c.cps)} conn/s, both agents ${Math.round(c.agentUsPerConn)} µs CPU per connection`,
  ];
  for (const [i, r] of runs.entries()) {
    const p = (await r.stop()) as CpuProfile;
    writeFileSync(
      join(dir, `${what.replace(' ', '-')}-node-${i + 1}.cpuprofile`),
      JSON.stringify(p),
    );
    const s = summarise(p);
    const f = `node-${i + 1}`;
    out.push(
      `${f}: ${(s.busyUs / 1000).toFixed(0)} ms busy of ${(s.totalUs / 1000).toFixed(0)} ms sampled`,
    );
    for (const [a, us] of s.areas.slice(0, 12))
      out.push(`  area ${a}: ${((100 * us) / s.busyUs).toFixed(1)}%`);
    for (const [fn, us] of s.functions.slice(0, 25))
      out.push(`  ${((100 * us) / s.busyUs).toFixed(1)}% ${fn}`);
  }
  return out;
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0)
    throw new Error('make bench-footprint needs root (it builds sandboxes)');
  const variants = pickVariants();
  const asked = cfg.idle;
  cfg.idle = raiseFdLimit(asked);
  if (cfg.idle < asked) {
    say(`open idle connections: ${cfg.idle} of the ${asked} asked, within the open-file limit`);
  }
  idleNote =
    cfg.idle < asked
      ? `${asked.toLocaleString('en-US')} were asked for; the open-file limit of this machine (hard limit ${readFileSync('/proc/self/limits', 'utf8').match(/^Max open files\s+\d+\s+(\S+)/m)?.[1]}) holds ${cfg.idle.toLocaleString('en-US')} for node-1's agent at ${FDS_PER_IDLE} descriptors a connection of the mix.`
      : '';
  const machine = describeMachine();
  const cleanup = benchCleanup();
  const tmp = benchTempDir(cleanup, 'weft-footprint-');
  cleanup.add('pod programs', killAllInPods);
  // The profiles stay after the run, for a closer look (e.g. in Chrome's DevTools).
  const profDir = join(tmpdir(), 'weft-footprint-profiles');
  mkdirSync(profDir, { recursive: true });
  const boxes: FootprintBox[] = [];
  const rounds: FootprintRound[] = [];
  const scales: ScaleResult[] = [];
  const idleFresh = new Map<string, number[]>();
  const idleAnon = new Map<string, number[]>();
  const peerRounds: PeerRound[] = [];
  let peers: Peers | null = null;
  const prof: string[] = [];
  // The HBONE half of the idle connections are streams of node-2's inbound server.
  const agentArgs = ['--hbone-max-streams', String(cfg.idle + cfg.stalled + 100)];
  const t0 = performance.now();
  try {
    for (const [i, v] of variants.entries()) {
      say(`starting sandbox of ${v.id}…`);
      boxes.push(await FootprintBox.up(v, i, tmp, agentArgs, cleanup));
    }
    await sleep(QUIET_MS);
    for (const b of boxes) {
      idleFresh.set(b.variant.id, b.rssMiB());
      idleAnon.set(b.variant.id, b.anonMiB());
    }
    if (cfg.memoryOnly) {
      await memoryOnly(boxes);
      return 0;
    }
    if (!cfg.profile) {
      mkdirSync(peersDir(tmp));
      peers = await Peers.start(boxes[0]!, peersDir(tmp));
    }
    for (let r = 0; r < cfg.rounds; r++) {
      for (let k = 0; k < boxes.length; k++) {
        const b = boxes[(k + r) % boxes.length]!;
        say(`round ${r + 1}/${cfg.rounds}: ${b.variant.id}`);
        rounds.push(await round(b));
        if (peers && b === boxes[0]) {
          say(`round ${r + 1}/${cfg.rounds}: peers`);
          peerRounds.push(await peers.round(b, cfg.connectMs));
        }
      }
    }
    if (cfg.profile) {
      for (const [what, server] of [
        ['HBONE', 'remote'],
        ['same node', 'local'],
      ] as const) {
        say(`profiling the agents during connections (${what})…`);
        prof.push(...(await profileConnects(boxes[0]!, what, server, profDir)));
      }
    }
    if (cfg.pods > 0) {
      // In the first variant's sandbox: building 200 pods' namespaces takes the sandbox a while.
      say(`${cfg.pods} pods: ${boxes[0]!.variant.id}`);
      scales.push(await scale(boxes[0]!));
    }
  } finally {
    peers?.stop();
    for (const b of boxes) await b.down().catch((e: Error) => say(`sandbox down: ${e.message}`));
    for (const e of cleanup.dispose()) say(e.message);
    if (prof.length)
      process.stdout.write(
        `\nCPU profile of the agents during the connection tests:\n${prof.join('\n')}\n`,
      );
  }
  machine.loadEnd = currentLoad();
  const doc = renderFootprint({
    machine,
    cfg,
    variants,
    idleFresh,
    idleAnon,
    idleNote,
    rounds,
    scales,
    peers: peerRounds,
    seconds: (performance.now() - t0) / 1000,
  });
  process.stdout.write(`\n${doc}\n`);
  if (!cfg.profile) {
    writeFileSync(new URL('../docs/benchmarks-footprint.md', import.meta.url), doc);
    const main = new URL('../docs/benchmarks.md', import.meta.url);
    writeFileSync(main, withSection(readFileSync(main, 'utf8'), doc, 'footprint'));
    say('wrote docs/benchmarks-footprint.md and its section of docs/benchmarks.md');
  }
  return 0;
}

process.exitCode = await main();
