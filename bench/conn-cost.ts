// What a new connection costs the agents, alone and quickly: the footprint bench's
// sandbox (bench/footprint-box.ts) and its connection rows only (direct, over HBONE
// to node-2, same node through the in-process hand-off), rounds interleaved across
// variants (sandboxes whose agents differ in their environment). With
// WEFT_CONN_PROFILE=1 both agents are then profiled through their inspector during
// each meshed row, and the busy time is broken down by what the agent was doing for
// the connections (cpu-profile.ts breakdown). Prints; writes no page.
//   node bench/conn-cost.ts   (WEFT_BENCH_ROUNDS, WEFT_BENCH_CONNECT_MS, WEFT_CONN_VARIANTS,
//                              WEFT_CONN_PROFILE, WEFT_CONN_PROFILE_MS)
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { breakdown, type CpuProfile, type Rule, summarise } from './cpu-profile.ts';
import { FootprintBox, type Variant } from './footprint-box.ts';
import { startProfile } from './inspector-profile.ts';
import { currentLoad } from './machine.ts';
import { killAllInPods } from './pod-exec.ts';
import { median } from './stats.ts';
import { benchCleanup, benchTempDir, spawnOwned } from './teardown.ts';

const say = (line: string) => process.stderr.write(`conn-cost: ${line}\n`);
const num = (name: string, def: number) => {
  const raw = process.env[name] ?? String(def);
  if (!/^\d+$/.test(raw)) throw new Error(`${name}=${raw}: expected a whole number`);
  return Number(raw);
};
const cfg = {
  rounds: num('WEFT_BENCH_ROUNDS', 5),
  connectMs: num('WEFT_BENCH_CONNECT_MS', 2000),
  profile: process.env.WEFT_CONN_PROFILE === '1',
  profileMs: num('WEFT_CONN_PROFILE_MS', 3000),
  perf: process.env.WEFT_CONN_PERF === '1',
  strace: process.env.WEFT_CONN_STRACE === '1',
};

/**
 * WEFT_CONN_VARIANTS: `;`-separated `id` or `id:NAME=value,NAME=value` (the agents'
 * environment); default one variant, the agent as it is.
 */
function variants(): Variant[] {
  const raw = process.env.WEFT_CONN_VARIANTS?.trim();
  if (!raw) return [{ id: 'now', what: 'the agent as it is', env: {} }];
  return raw.split(';').map((spec) => {
    const [id, envs = ''] = spec.trim().split(/:(.*)/s) as [string, string?];
    const env: Record<string, string> = {};
    for (const kv of envs.split(',').filter(Boolean)) {
      const eq = kv.indexOf('=');
      if (eq <= 0) throw new Error(`WEFT_CONN_VARIANTS: '${kv}' in '${spec}' is not NAME=value`);
      env[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
    return { id, what: envs || 'the agent as it is', env };
  });
}

const ROWS = [
  ['direct', 'dclient', 'dremote'],
  ['hbone', 'client', 'remote'],
  ['node', 'client', 'local'],
] as const;

/**
 * What the agents do for a new connection, by the agent function (or Node's) under which
 * the time was spent; the innermost one claims a sample (cpu-profile.ts breakdown).
 */
export const CONNECTION_RULES: Rule[] = [
  ['netns sockets (pool refill)', /proxy\/socket-pool\.ts|netnsSockets/],
  ['original destination (BPF map)', /takeOrig|datapath\/(map|codec)\.ts/],
  ['telemetry (record, metrics, log, registry)', /^[^ ]* telemetry\//],
  ['policy lookup', /proxy\/(decide|authorize|admit)\.ts.*|decideEgress|allowedEndpoints/],
  ['HBONE CONNECT request (client)', /^open proxy\/hbone\/client\.ts/],
  ['HBONE CONNECT checks (server)', /proxy\/hbone\/(front|tls)\.ts/],
  ['dial (socket, connect)', /proxy\/forward\.ts/],
  ['SO_LINGER arm/clear', /setAbortive|resetIfCut/],
  ['kernel relay hand-off', /proxy\/relay\.ts/],
  ['join (JavaScript relay)', /proxy\/pipe\.ts/],
  [
    'accept and route (outbound, inbound, HBONE server)',
    /proxy\/(outbound|inbound|listeners|index|contain)\.ts|proxy\/hbone\/(server|limits)\.ts/,
  ],
  ['HTTP/2 (Node)', /node:internal\/http2|node:http2/],
  ['TLS (Node)', /node:internal\/tls|node:tls|_tls_/],
  ['sockets (Node net, streams)', /node:net|node:internal\/(net|stream_base_commons|streams)/],
  ['timers, ticks, events', /node:internal\/(timers|process\/task_queues)|node:events|node:timers/],
];

async function profileRow(box: FootprintBox, row: (typeof ROWS)[number], dir: string) {
  const [what, client, server] = row;
  const runs = await Promise.all(
    box.agentPids().map((pid, i) => {
      const at = box.nodePlacement(i);
      const stop = join(dir, `stop-${box.variant.id}-${what}-${i}`);
      rmSync(stop, { force: true }); // a file left by an earlier run would stop it at once
      return startProfile(pid, at.netnsPath, at.cgroupDir, stop);
    }),
  );
  const c = await box.connects(client, server, cfg.profileMs);
  const conns = c.cps * (cfg.profileMs / 1000);
  const out = [
    `${box.variant.id} ${what} (profiled): ${Math.round(c.cps)} conn/s, ${Math.round(c.agentUsPerConn)} µs agent CPU per connection`,
  ];
  for (const [i, r] of runs.entries()) {
    const p = (await r.stop()) as CpuProfile;
    writeFileSync(
      join(dir, `${box.variant.id}-${what}-node-${i + 1}.cpuprofile`),
      JSON.stringify(p),
    );
    const b = breakdown(p, CONNECTION_RULES);
    out.push(
      `  node-${i + 1}: ${(b.busyUs / conns).toFixed(0)} µs busy in JavaScript's view per connection`,
    );
    for (const [label, us] of b.parts)
      out.push(
        `    ${(us / conns).toFixed(1).padStart(7)} µs ${((100 * us) / b.busyUs).toFixed(1).padStart(5)}%  ${label}`,
      );
    const s = summarise(p);
    out.push('    top functions (self):');
    for (const [fn, us] of s.functions.slice(0, 20))
      out.push(`      ${(us / conns).toFixed(1).padStart(7)} µs  ${fn}`);
  }
  return out;
}

/**
 * perf(1) on both agents during a meshed row, kernel and native code included (the
 * inspector sees only JavaScript's view); the agents' JavaScript has names when their
 * Node runs with --perf-basic-prof (WEFT_AGENT_NODE_FLAGS). Self time by symbol and by
 * binary, per connection.
 */
async function perfRow(box: FootprintBox, row: (typeof ROWS)[number], dir: string) {
  const [what, client, server] = row;
  const data = join(dir, `${box.variant.id}-${what}.perf.data`);
  const rec = spawnOwned(
    ['perf', 'record', '-F', '4000', '-g', '-o', data, '-p', box.agentPids().join(',')],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  await new Promise((r) => setTimeout(r, 500));
  const c = await box.connects(client, server, cfg.profileMs);
  rec.kill('SIGINT');
  await new Promise((r) => rec.once('exit', r));
  const conns = c.cps * (cfg.profileMs / 1000);
  const report = (sort: string, n: number) =>
    execFileSync(
      'perf',
      [
        'report',
        '-i',
        data,
        '--no-children',
        '--sort',
        sort,
        '--stdio',
        '-q',
        '-g',
        'none',
        '--percent-limit',
        '0.5',
      ],
      { encoding: 'utf8', maxBuffer: 1 << 26 },
    )
      .split('\n')
      .filter((l) => l.trim())
      .slice(0, n);
  const samplesUs = Number(
    /^# Samples: (\d+)/m.exec(
      execFileSync('perf', ['report', '-i', data, '--stdio', '--header-only'], {
        encoding: 'utf8',
      }),
    )?.[1] ?? 0,
  );
  return [
    `${box.variant.id} ${what} (perf): ${Math.round(c.cps)} conn/s, ${Math.round(c.agentUsPerConn)} µs agent CPU per connection, ${conns.toFixed(0)} connections, ${samplesUs} samples`,
    '  by binary:',
    ...report('dso', 12).map((l) => `    ${l.trim()}`),
    '  by symbol:',
    ...report('sym', 60).map((l) => `    ${l.trim()}`),
  ];
}

/** System calls of both agents' threads per connection during a meshed row (strace -c: counts, not times). */
async function straceRow(box: FootprintBox, row: (typeof ROWS)[number], dir: string) {
  const [what, client, server] = row;
  const out = join(dir, `${box.variant.id}-${what}.strace`);
  const args = ['-c', '-f', '-o', out];
  for (const pid of box.agentPids()) args.push('-p', String(pid));
  const tr = spawnOwned(['strace', ...args], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 1000));
  const c = await box.connects(client, server, cfg.profileMs);
  tr.kill('SIGINT');
  await new Promise((r) => tr.once('exit', r));
  const conns = c.cps * (cfg.profileMs / 1000);
  const lines = readFileSync(out, 'utf8').split('\n');
  const calls: [string, number][] = [];
  for (const l of lines) {
    const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$/.exec(l);
    if (m && m[2] !== 'total') calls.push([m[2]!, Number(m[1])]);
  }
  calls.sort((a, b) => b[1] - a[1]);
  const total = calls.reduce((k, [, n]) => k + n, 0);
  return [
    `${box.variant.id} ${what} (strace): ${conns.toFixed(0)} connections, ${(total / conns).toFixed(1)} system calls per connection (both agents)`,
    ...calls
      .filter(([, n]) => n / conns >= 0.05)
      .map(([name, n]) => `    ${(n / conns).toFixed(2).padStart(6)}  ${name}`),
  ];
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0)
    throw new Error('bench/conn-cost.ts needs root (it builds sandboxes)');
  const vs = variants();
  const cleanup = benchCleanup();
  const tmp = benchTempDir(cleanup, 'weft-conn-cost-');
  cleanup.add('pod programs', killAllInPods);
  const profDir = join(tmpdir(), 'weft-conn-profiles');
  mkdirSync(profDir, { recursive: true });
  const results = new Map<string, { cps: number; us: number }[]>();
  const boxes: FootprintBox[] = [];
  const prof: string[] = [];
  const load0 = currentLoad();
  try {
    for (const [i, v] of vs.entries()) {
      say(`starting sandbox of ${v.id}…`);
      boxes.push(await FootprintBox.up(v, 10 + i, tmp, [], cleanup));
    }
    // Warm: the first HBONE connection makes the session, the first of each kind compiles code.
    for (const b of boxes) for (const [, c, s] of ROWS) await b.connects(c, s, 500);
    for (let r = 0; r < cfg.rounds; r++) {
      for (let k = 0; k < boxes.length; k++) {
        const b = boxes[(k + r) % boxes.length]!;
        for (const row of ROWS) {
          const c = await b.connects(row[1], row[2], cfg.connectMs);
          const key = `${b.variant.id}|${row[0]}`;
          results.set(key, [...(results.get(key) ?? []), { cps: c.cps, us: c.agentUsPerConn }]);
          say(
            `round ${r + 1} ${b.variant.id} ${row[0]}: ${Math.round(c.cps)} conn/s, ${Math.round(c.agentUsPerConn)} µs`,
          );
        }
      }
    }
    if (cfg.strace)
      for (const b of boxes)
        for (const row of ROWS.slice(1)) prof.push(...(await straceRow(b, row, profDir)));
    if (cfg.perf)
      for (const b of boxes)
        for (const row of ROWS.slice(1)) prof.push(...(await perfRow(b, row, profDir)));
    if (cfg.profile)
      for (const b of boxes)
        for (const row of ROWS.slice(1)) prof.push(...(await profileRow(b, row, profDir)));
  } finally {
    for (const b of boxes) await b.down().catch((e: Error) => say(`sandbox down: ${e.message}`));
    for (const e of cleanup.dispose()) say(e.message);
  }
  const lines = [
    `load average ${load0} at the start, ${currentLoad()} at the end; ${cfg.rounds} rounds of ${cfg.connectMs} ms`,
    '| variant | direct conn/s | HBONE conn/s | vs direct | agents µs / conn | same node conn/s | vs direct | agents µs / conn |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  const med = (id: string, row: string, f: (x: { cps: number; us: number }) => number) =>
    median((results.get(`${id}|${row}`) ?? []).map(f));
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  for (const v of vs) {
    const d = med(v.id, 'direct', (x) => x.cps);
    const h = med(v.id, 'hbone', (x) => x.cps);
    const n = med(v.id, 'node', (x) => x.cps);
    lines.push(
      `| ${v.id} | ${fmt(d)} | ${fmt(h)} | ${((100 * h) / d).toFixed(0)}% | ${fmt(med(v.id, 'hbone', (x) => x.us))} (${(results.get(`${v.id}|hbone`) ?? []).map((x) => fmt(x.us)).join(', ')}) | ${fmt(n)} | ${((100 * n) / d).toFixed(0)}% | ${fmt(med(v.id, 'node', (x) => x.us))} (${(results.get(`${v.id}|node`) ?? []).map((x) => fmt(x.us)).join(', ')}) |`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n${prof.length ? `\n${prof.join('\n')}\n` : ''}`);
}

await main();
