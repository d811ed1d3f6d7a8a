// make bench: one matrix, one run. Direct, weft L4 plaintext, weft mTLS L4,
// weft mTLS with an L7 policy, an nginx mTLS proxy pair and the splice
// variant, all across nodes in sandboxes that are up at once; rounds
// interleave the paths and every figure is a median compared with direct from
// the same run. Prints the tables; writes docs/benchmarks.md and
// docs/benchmarks.svg. Settings: docs/benchmarks.md ("Settings").
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fetchStatus } from '../agent/src/admin/client.ts';
import { netnsPath } from '../agent/src/sandbox/host.ts';
import { renderChart } from './chart-svg.ts';
import { benchConfig, type RowId } from './config.ts';
import { measureHttp } from './http-load.ts';
import { startProfile } from './inspector-profile.ts';
import { currentLoad, describeMachine } from './machine.ts';
import { PORTS, type RowSpec, type SandboxKey, sandboxesFor, selectRows } from './matrix.ts';
import { findCommand, killAllInPods } from './pod-exec.ts';
import { renderConsole, renderDoc } from './report.ts';
import {
  combine,
  FAILED_HTTP,
  FAILED_TCP,
  type HttpFigures,
  type RowSample,
  type TcpFigures,
} from './results.ts';
import { BenchSandbox } from './sandboxes.ts';
import { withSection } from './sections.ts';
import { roundOrder } from './stats.ts';
import { measureTcp } from './tcp-load.ts';
import { benchCleanup, benchTempDir } from './teardown.ts';
import { withUpgradeSection } from './upgrade-report.ts';

const say = (line: string) => process.stderr.write(`bench: ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function httpUrl(spec: RowSpec, box: BenchSandbox): string {
  if (spec.proxy === 'nginx') return `http://127.0.0.1:${PORTS.nginxLocal}/`;
  if (spec.service) return `http://${box.service(spec.service)}:80/`;
  return `http://${box.pod(spec.server).ip}:${PORTS.app}/`;
}

/**
 * Proves each HTTP path is the one it claims before it is measured: a GET
 * answers 200, and a POST answers 403 only where the L7 policy applies.
 * Returns what was wrong, if anything.
 */
async function probe(spec: RowSpec, box: BenchSandbox): Promise<string[]> {
  if (!spec.http) return [];
  const want = { get: 200, post: spec.id === 'l7' || spec.id === 'l7-route' ? 403 : 200 };
  let got: { get: number | string; post: number | string } = { get: '-', post: '-' };
  for (let i = 0; i < 10; i++) {
    got = await box.probe(spec.client, httpUrl(spec, box));
    if (got.get === want.get && got.post === want.post) return [];
    await sleep(300);
  }
  return [
    `path check: GET answered ${got.get} (want ${want.get}), POST ${got.post} (want ${want.post}); not measured`,
  ];
}

/** Starts both agents' CPU profiles (WEFT_BENCH_PROFILE=dir); the returned call stops them and writes the files. */
async function profileAgents(
  box: BenchSandbox,
  row: string,
  cfg: ReturnType<typeof benchConfig>,
): Promise<() => Promise<void>> {
  const dir = cfg.profile!;
  mkdirSync(dir, { recursive: true });
  const nodes = box.sbx.state.nodes;
  const runs = await Promise.all(
    nodes.map((n, i) =>
      startProfile(
        n.agentPid!,
        netnsPath(n.netns),
        join(n.cgroupRoot, 'profiler'),
        join(dir, `stop-${row}-${i}-${Date.now()}`),
      ),
    ),
  );
  const usage = () =>
    nodes.map((n) => {
      const st = readFileSync(join(n.cgroupRoot, 'agent', 'cpu.stat'), 'utf8');
      return [/user_usec (\d+)/, /system_usec (\d+)/].map((r) => Number(r.exec(st)?.[1] ?? 0));
    });
  const u0 = usage();
  const counts = async () =>
    (await Promise.all(nodes.map((n) => fetchStatus(n.adminSocket)))).map(
      (st) => `out ${st.proxy.outbound.accepted} in ${st.proxy.inbound.accepted}`,
    );
  const c0 = await counts();
  return async () => {
    const u1 = usage();
    say(`accepted before: ${c0.join(' / ')}; after: ${(await counts()).join(' / ')}`);
    const ms = (x: number, y: number) => ((x - y) / 1000).toFixed(0);
    say(
      `agents' CPU over the row, user+system ms: ${u1.map((u, i) => `${ms(u[0]!, u0[i]![0]!)}+${ms(u[1]!, u0[i]![1]!)}`).join(' / ')}`,
    );
    for (const [i, r] of runs.entries()) {
      const f = join(dir, `${row}-node-${i + 1}-${Date.now()}.cpuprofile`);
      writeFileSync(f, JSON.stringify(await r.stop()));
      say(`profile: ${f}`);
    }
  };
}

async function measureRow(
  spec: RowSpec,
  box: BenchSandbox,
  cfg: ReturnType<typeof benchConfig>,
): Promise<RowSample> {
  const client = box.pod(spec.client);
  const errors: string[] = [];
  let tcp: TcpFigures | undefined;
  let http: HttpFigures | undefined;
  const notes: string[] = [];
  // Figures of a path that did not take the path it is named for are not reported.
  const check = (through: number, opened: number) =>
    spec.meshed
      ? through < opened &&
        `the weft proxies accepted ${through} of the ${opened} connections the client opened`
      : through > 0 &&
        `the weft proxies accepted ${through} connections of a path outside the mesh`;
  let mark = await box.meshConnections();
  const through = async () => {
    const now = await box.meshConnections();
    const n = now - mark;
    mark = now;
    return n;
  };
  if (spec.tcp) {
    const t = await measureTcp(client, box.pod(spec.server), box.cgroup, cfg);
    const wrong = check(await through(), t.connections);
    tcp = wrong ? FAILED_TCP : t.figures;
    errors.push(...t.errors, ...(wrong ? [`TCP: ${wrong}`] : []));
  }
  if (spec.http) {
    const profiling =
      cfg.profile && spec.proxy === 'agents' ? await profileAgents(box, spec.id, cfg) : null;
    const h = await measureHttp(client, httpUrl(spec, box), box.cgroup, cfg);
    await profiling?.();
    const n = await through();
    const wrong = check(n, cfg.httpConnections);
    http = wrong ? FAILED_HTTP : h.figures;
    errors.push(...h.errors, ...(wrong ? [`HTTP: ${wrong}`] : []));
    if (spec.meshed && n > 2 * cfg.httpConnections) {
      notes.push(
        `HTTP: the weft proxies accepted ${n} connections for wrk's ${cfg.httpConnections} keep-alive connections (${h.requests} requests): connections were closed and opened again`,
      );
    }
  }
  const rssMiB =
    spec.proxy === 'agents'
      ? box.agentsRssMiB()
      : spec.proxy === 'nginx'
        ? box.nginxRssMiB()
        : Number.NaN;
  return { tcp, http, rssMiB, errors, notes };
}

async function main(): Promise<number> {
  const cfg = benchConfig(process.env);
  if (process.getuid?.() !== 0) throw new Error('make bench needs root (it builds sandboxes)');
  const missing = ['wrk', 'nginx', 'openssl', 'nsenter'].filter((c) => !findCommand(c));
  if (missing.length) {
    throw new Error(`missing ${missing.join(', ')}: run scripts/bench-deps.sh (make bench does)`);
  }
  const rows = selectRows(cfg.only);
  const machine = describeMachine();
  const cleanup = benchCleanup();
  const tmp = benchTempDir(cleanup, 'weft-bench-');
  const boxes = new Map<SandboxKey, BenchSandbox>();
  cleanup.add('pod programs', killAllInPods);
  const samples = new Map<RowId, RowSample[]>(rows.map((r) => [r.id, []]));
  const t0 = performance.now();
  try {
    for (const key of sandboxesFor(rows)) {
      say(`starting sandbox ${key}…`);
      boxes.set(key, await BenchSandbox.up(key, tmp, cleanup));
    }
    const broken = new Map<RowId, string[]>();
    for (const spec of rows) {
      const problems = await probe(spec, boxes.get(spec.sandbox)!);
      if (problems.length) broken.set(spec.id, problems);
    }
    for (let round = 0; round < cfg.rounds; round++) {
      for (const spec of roundOrder(rows, round)) {
        say(`round ${round + 1}/${cfg.rounds}: ${spec.label}`);
        const sample = broken.has(spec.id)
          ? {
              tcp: spec.tcp ? FAILED_TCP : undefined,
              http: spec.http ? FAILED_HTTP : undefined,
              rssMiB: Number.NaN,
              errors: broken.get(spec.id)!,
              notes: [],
            }
          : await measureRow(spec, boxes.get(spec.sandbox)!, cfg);
        samples.get(spec.id)!.push(sample);
      }
    }
  } finally {
    for (const box of boxes.values()) {
      await box.down().catch((e: Error) => say(`sandbox down: ${e.message}`));
    }
    for (const e of cleanup.dispose()) say(e.message);
  }
  const seconds = (performance.now() - t0) / 1000;
  machine.loadEnd = currentLoad();
  const results = rows.map((spec) => combine(spec, samples.get(spec.id)!));
  say(`matrix done in ${Math.round(seconds)} s`);
  process.stdout.write(`\n${renderConsole(results)}\n`);
  if (cfg.only) {
    say(
      `${cfg.quick ? 'BENCH_QUICK' : 'WEFT_BENCH_ONLY'} is set: docs/benchmarks.md and docs/benchmarks.svg are left as they are`,
    );
  } else {
    const caption = `${machine.cores} × ${machine.cpu}, Linux ${machine.kernel}, Node ${machine.node}, ${machine.date.slice(0, 10)}; ${cfg.rounds === 1 ? 'one round' : `medians of ${cfg.rounds} rounds`}`;
    writeFileSync(
      new URL('../docs/benchmarks.svg', import.meta.url),
      renderChart(results, caption),
    );
    // The agent upgrade's and the footprint's sections (bench/upgrade.ts, bench/footprint.ts)
    // stay as they were written.
    const page = (name: string) => {
      try {
        return readFileSync(new URL(`../docs/${name}`, import.meta.url), 'utf8');
      } catch {
        return ''; // not measured yet
      }
    };
    writeFileSync(
      new URL('../docs/benchmarks.md', import.meta.url),
      withSection(
        withUpgradeSection(
          renderDoc({ machine, cfg, rows: results, seconds }),
          page('benchmarks-upgrade.md'),
        ),
        page('benchmarks-footprint.md'),
        'footprint',
      ),
    );
    say('wrote docs/benchmarks.md and docs/benchmarks.svg');
  }
  // A failed measurement is a finding, shown in the tables; only a broken setup fails the run.
  return 0;
}

process.exitCode = await main();
