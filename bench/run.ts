// make bench: direct vs through the mesh, same node and across nodes, in one
// run on one sandbox per configuration; every figure is a ratio to direct
// measured minutes apart at most. Writes docs/benchmarks.md.
import { execSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchStatus } from '../agent/src/cli/commands/status.ts';
import { lastJson, runInPod, spawnInPod } from '../agent/src/sandbox/exec.ts';
import { Sandbox, teardown } from '../agent/src/sandbox/sandbox.ts';
import { benchServer, bulkClient, connectClient, pingClient } from './pod-programs.ts';

const BULK_MS = Number(process.env.WEFT_BENCH_BULK_MS ?? 3000);
const PINGS = Number(process.env.WEFT_BENCH_PINGS ?? 20000);
const CONNECT_MS = Number(process.env.WEFT_BENCH_CONNECT_MS ?? 2000);
// Paths are measured in turns, this many rounds; each figure is the median.
const ROUNDS = Number(process.env.WEFT_BENCH_ROUNDS ?? 3);

const pod = (ns: string, name: string, node: string, enrolled: boolean) => `
apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${ns}${enrolled ? '' : ', labels: {weft.dev/mesh: disabled}'}}
spec: {nodeName: ${node}, containers: [{name: app}]}
`;
// The same three pods twice: once opted out (direct), once in the mesh.
const manifests = [
  'apiVersion: v1\nkind: Namespace\nmetadata: {name: bench, labels: {weft.dev/mesh: enabled}}\n',
  pod('bench', 'client', 'node-1', true),
  pod('bench', 'local', 'node-1', true),
  pod('bench', 'remote', 'node-2', true),
  pod('bench', 'dclient', 'node-1', false),
  pod('bench', 'dlocal', 'node-1', false),
  pod('bench', 'dremote', 'node-2', false),
].join('---\n');

interface Row {
  path: string;
  gbps: number;
  p50: number;
  p90: number;
  p99: number;
  cps: number;
  /** What failed, when a measurement could not complete. */
  errors: string[];
}

async function measure(sbx: Sandbox, from: string, to: string, label: string): Promise<Row> {
  const p = (k: string) => {
    const s = sbx.state.pods.find((x) => x.key === `bench/${k}`)!;
    return { netnsPath: s.netns, cgroupDir: s.cgroup, ip: s.ip };
  };
  const target = p(to).ip;
  const bulk = lastJson<{ bytes: number; seconds: number; error?: string }>(
    await runInPod(p(from), bulkClient(target, BULK_MS), BULK_MS + 30_000),
  );
  const ping = lastJson<{ p50: number; p90: number; p99: number; error?: string }>(
    await runInPod(p(from), pingClient(target, PINGS), 120_000),
  );
  const conn = lastJson<{ count: number; seconds: number; error?: string }>(
    await runInPod(p(from), connectClient(target, CONNECT_MS), CONNECT_MS + 30_000),
  );
  const errors: string[] = [];
  if (bulk.error) errors.push(`throughput: ${bulk.error}`);
  if (ping.error) errors.push(`latency: ${ping.error}`);
  if (conn.error) errors.push(`connections: ${conn.error}`);
  return {
    path: label,
    gbps: bulk.error ? Number.NaN : (bulk.bytes * 8) / bulk.seconds / 1e9,
    p50: ping.error ? Number.NaN : ping.p50,
    p90: ping.error ? Number.NaN : ping.p90,
    p99: ping.error ? Number.NaN : ping.p99,
    cps: conn.error ? Number.NaN : conn.count / conn.seconds,
    errors,
  };
}

function med(xs: number[]): number {
  const ok = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return ok.length === xs.length ? ok[Math.floor(ok.length / 2)]! : Number.NaN;
}

function median(rs: Row[]): Row {
  return {
    path: rs[0]!.path,
    gbps: med(rs.map((r) => r.gbps)),
    p50: med(rs.map((r) => r.p50)),
    p90: med(rs.map((r) => r.p90)),
    p99: med(rs.map((r) => r.p99)),
    cps: med(rs.map((r) => r.cps)),
    errors: [...new Set(rs.flatMap((r) => r.errors))],
  };
}

interface Config {
  name: string;
  /** Label of the meshed rows. */
  mode: string;
  mtls: boolean;
  splice: boolean;
  /** Measure the direct paths in this sandbox too. */
  direct: boolean;
}

async function runConfig(cfg: Config): Promise<Row[]> {
  teardown(cfg.name);
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-'));
  writeFileSync(join(dir, 'bench.yaml'), manifests);
  const sbx = await Sandbox.up({
    name: cfg.name,
    nodes: 2,
    manifests: dir,
    splice: cfg.splice,
    mtls: cfg.mtls,
  });
  const children = [];
  try {
    for (const k of ['local', 'remote', 'dlocal', 'dremote']) {
      const s = sbx.state.pods.find((x) => x.key === `bench/${k}`)!;
      const child = spawnInPod({ netnsPath: s.netns, cgroupDir: s.cgroup }, benchServer);
      children.push(child);
      await new Promise<void>((resolve) => child.stdout?.on('data', () => resolve()));
    }
    if (cfg.mtls) {
      // Certificates first, so the first measured connection does not wait for one.
      for (let i = 0; i < 200; i++) {
        const ids = (
          await Promise.all(sbx.state.nodes.map((n) => fetchStatus(n.adminSocket)))
        ).flatMap((s) => s.identities);
        if (ids.length > 0 && ids.every((x) => x.serial)) break;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const paths: [string, string, string][] = [
      ...(cfg.direct
        ? [['dclient', 'dlocal', 'direct, same node'] as [string, string, string]]
        : []),
      ['client', 'local', `${cfg.mode}, same node`],
      ...(cfg.direct
        ? [['dclient', 'dremote', 'direct, across nodes'] as [string, string, string]]
        : []),
      ['client', 'remote', `${cfg.mode}, across nodes`],
    ];
    const samples = new Map<string, Row[]>(paths.map(([, , l]) => [l, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const [from, to, label] of paths)
        samples.get(label)!.push(await measure(sbx, from, to, label));
    }
    return paths.map(([, , label]) => median(samples.get(label)!));
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await sbx.down();
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmt = (n: number, d = 2) => (Number.isNaN(n) ? 'failed' : n.toFixed(d));

const CONFIGS: Config[] = [
  { name: 'benchl4', mode: 'weft L4 plaintext', mtls: false, splice: false, direct: true },
  { name: 'benchtls', mode: 'weft mTLS (HBONE)', mtls: true, splice: false, direct: false },
  { name: 'benchsp', mode: 'weft L4 + splice', mtls: false, splice: true, direct: false },
];

function ratio(r: Row, d: Row, k: 'gbps' | 'cps'): string {
  if (r === d) return '1';
  const v = (r[k] / d[k]) * 100;
  return Number.isNaN(v) ? 'failed' : `${fmt(v, 0)}%`;
}

function added(r: Row, d: Row, k: 'p50' | 'p90' | 'p99'): string {
  return r === d ? '' : `+${fmt(r[k] - d[k], 0)}`;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('make bench needs root (it builds a sandbox)');
  const rows: Row[] = [];
  // WEFT_BENCH_ONLY=benchtls measures one configuration (docs/benchmarks.md is then not written).
  const only = process.env.WEFT_BENCH_ONLY;
  for (const cfg of CONFIGS.filter((c) => !only || c.name === only || c.direct)) {
    process.stderr.write(`bench: ${cfg.mode}…\n`);
    rows.push(...(await runConfig(cfg)));
  }
  const direct = (where: string) => rows.find((r) => r.path === `direct, ${where}`)!;
  const order = (where: string) => rows.filter((r) => r.path.endsWith(where));
  const lines = [
    '| path | throughput (Gbit/s) | vs direct | RTT p50 (µs) | added | RTT p90 (µs) | added | RTT p99 (µs) | added | connections/s | vs direct |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const where of ['same node', 'across nodes']) {
    const d = direct(where);
    for (const r of order(where)) {
      lines.push(
        `| ${r.path} | ${fmt(r.gbps)} | ${ratio(r, d, 'gbps')} | ${fmt(r.p50, 0)} | ${added(r, d, 'p50')} | ${fmt(r.p90, 0)} | ${added(r, d, 'p90')} | ${fmt(r.p99, 0)} | ${added(r, d, 'p99')} | ${fmt(r.cps, 0)} | ${ratio(r, d, 'cps')} |`,
      );
    }
  }
  const failures = rows.flatMap((r) => r.errors.map((e) => `- ${r.path}: ${e}`));
  const table =
    lines.join('\n') + (failures.length ? `\n\nFailed measurements:\n${failures.join('\n')}` : '');
  process.stdout.write(`\n${table}\n`);
  const d = direct('across nodes');
  const l4 = rows.find((r) => r.path === 'weft L4 plaintext, across nodes')!;
  const tls = rows.find((r) => r.path === 'weft mTLS (HBONE), across nodes')!;
  const check = (ok: boolean) => (ok ? 'met' : '**not met**');
  const kernel = execSync('uname -r', { encoding: 'utf8' }).trim();
  const doc = `# Benchmarks

Written by \`make bench\` (bench/run.ts) on ${new Date().toISOString().slice(0, 10)}. Every ratio compares
paths measured in the same run on the same machine.

Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Linux ${kernel}, Node ${process.version}.

## Setup

2-node sandboxes (one per configuration). The same pods exist twice: opted out of the mesh
(direct) and enrolled. A meshed connection crosses two proxy hops, as in any node-proxy
mesh: the client node's proxy (outbound, reached over loopback in the client pod's netns)
and the server node's proxy (inbound). Across nodes, "L4 plaintext" carries the bytes as
they are, "mTLS (HBONE)" wraps them in HTTP/2 CONNECT over mutual TLS 1.3 between the two
proxies. On the same node the mTLS configuration hands the connection to the inbound side
in process (no TLS on the wire), so its rows measure that hand-off.

- throughput: one connection, 256 KiB writes for ${BULK_MS / 1000} s, bytes counted by the server;
- latency: ${PINGS} sequential 1-byte round trips on one connection (after 2000 warm-up);
- connections/s: one after another for ${CONNECT_MS / 1000} s, each connect, send 1 byte, read it back, close.

Client and server are the same Node programs for every path, so their cost is in the
direct figures too. Paths are measured in turns, ${ROUNDS} rounds; each figure is the median
of its rounds, which tames the noise of a small shared machine (2 vCPUs carry the client,
the server and both agents).

${table}

## Against the targets (across nodes)

| target | measured | |
| --- | --- | --- |
| L4: throughput ≥ 35% of direct | ${fmt((l4.gbps / d.gbps) * 100, 0)}% | ${check(l4.gbps / d.gbps >= 0.35)} |
| L4: ≤ 60 µs added at p50 | +${fmt(l4.p50 - d.p50, 0)} µs | ${check(l4.p50 - d.p50 <= 60)} |
| mTLS: throughput ≥ 25% of direct | ${fmt((tls.gbps / d.gbps) * 100, 0)}% | ${check(tls.gbps / d.gbps >= 0.25)} |
| mTLS: ≤ 150 µs added at p50 | +${fmt(tls.p50 - d.p50, 0)} µs | ${check(tls.p50 - d.p50 <= 150)} |
| mTLS: ≤ 400 µs added at p99 | +${fmt(tls.p99 - d.p99, 0)} µs | ${check(tls.p99 - d.p99 <= 400)} |
| Istio ambient anchor (two ztunnels): +170 µs p90, +200 µs p99 | +${fmt(tls.p90 - d.p90, 0)} µs p90, +${fmt(tls.p99 - d.p99, 0)} µs p99 | (their hardware, not this machine) |

"L4 + splice" turns on the sockops/sk_msg splice of the app↔proxy loopback hop
(\`weft agent --splice\`). It stays off: see docs/architecture.md ("The splice stays off").
`;
  if (only) return;
  writeFileSync(new URL('../docs/benchmarks.md', import.meta.url), doc);
  process.stderr.write('wrote docs/benchmarks.md\n');
}

await main();
