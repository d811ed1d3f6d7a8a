// The L7 engine's rows, each a ratio to a path measured in the same run on this
// machine, rounds interleaved (median of ROUNDS):
//   HTTP/1.1: direct; nginx mTLS proxy pair; weft mTLS L4 (HBONE); an HTTP-declared
//   port with no routes; an outbound route (+ mTLS); the same + an inbound L7 rule.
//   gRPC unary: direct; through an outbound route (+ mTLS).
// Small and bounded for a shared machine: wrk -t1 -c8 for SECONDS per row per round.
// The two weft proxies (the client's outbound side with the L7 engine in this
// process, the server's HBONE side in a process of its own, as on two nodes) run
// on loopback addresses, built from the agent's code (test/support/l7-mesh.ts);
// the apps (nginx, a gRPC echo), nginx's pair and the load generators are
// processes of their own. CPU per 1,000 requests is the proxies' only: both
// weft processes, the two nginx proxy processes. Writes docs/benchmarks-l7.md.
// Knobs: WEFT_BENCH_L7_SECONDS, _ROUNDS, _ROWS (a subset, page not written), _ONE_PROCESS,
// _NODE_FLAGS (the weft processes' Node flags; default the agent's, from bin/weft).
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { type L7Mesh, l7Mesh } from '../test/support/l7-mesh.ts';
import { portRoutes, rule } from '../test/support/routes.ts';
import { agentNodeFlags } from './agent-flags.ts';
import { processTree } from './cpu.ts';
import { getOnlyPolicy, run } from './l7-shared.ts';
import { startLocalNginx } from './nginx.ts';
import { makeNginxCerts } from './nginx-certs.ts';
import { appConf, clientProxyConf, serverProxyConf } from './nginx-conf.ts';
import { benchCleanup, benchTempDir, killAtCleanup, spawnOwned } from './teardown.ts';
import { withTelemetrySection } from './telemetry-report.ts';
import { parseWrk, wrkArgs } from './wrk.ts';

const SECONDS = Number(process.env.WEFT_BENCH_L7_SECONDS ?? 3);
const ROUNDS = Number(process.env.WEFT_BENCH_L7_ROUNDS ?? 3);
// The destination node's proxy in a process of its own (the default), as on two nodes, or
// in this one (WEFT_BENCH_L7_ONE_PROCESS=1: both proxies share one thread).
const DESTINATION = process.env.WEFT_BENCH_L7_ONE_PROCESS === '1' ? 'in-process' : 'process';
const CONNECTIONS = 8;
const GRPC_STREAMS = 8;
const APP = 18080;
const GRPC_APP = 19090;
const NGINX_TLS = 18443;
const NGINX_LOCAL = 18081;

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  cpuMsPer1k: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function procCpuMs(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone
    }
  }
  return ticks * 10;
}

const selfCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function started(child: ChildProcess, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`${what} exited at start`);
    await sleep(50);
    if ((child as ChildProcess & { ready?: boolean }).ready) return;
  }
  throw new Error(`${what} did not start`);
}

function spawnReady(argv: string[]): ChildProcess {
  const c = spawnOwned(argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  c.stdout?.on('data', (d) => {
    if (String(d).includes('ready')) (c as ChildProcess & { ready?: boolean }).ready = true;
  });
  return c;
}

async function wrk(url: string, cpu: () => number): Promise<Figures> {
  const c0 = cpu();
  const out = await run(['wrk', ...wrkArgs({ url, connections: CONNECTIONS, seconds: SECONDS })]);
  const used = cpu() - c0;
  const w = parseWrk(out);
  if (w.non2xx > 0) throw new Error(`${url}: ${w.non2xx} answers outside 2xx`);
  return {
    rps: w.requestsPerSec,
    p50: w.p50,
    p99: w.p99,
    cpuMsPer1k: (used / w.requests) * 1000,
  };
}

async function grpcLoad(host: string, port: number, path: string, cpu: () => number) {
  const c0 = cpu();
  const out = await run([
    process.execPath,
    join(import.meta.dirname, 'l7-grpc.ts'),
    'load',
    host,
    String(port),
    path,
    String(SECONDS),
    String(GRPC_STREAMS),
  ]);
  const used = cpu() - c0;
  const r = JSON.parse(out) as {
    requests: number;
    failed: number;
    rps: number;
    p50: number;
    p99: number;
  };
  if (r.failed > 0) throw new Error(`gRPC ${host}:${port}: ${r.failed} calls failed`);
  return { rps: r.rps, p50: r.p50, p99: r.p99, cpuMsPer1k: (used / r.requests) * 1000 };
}

/** Where the page's hand-written part starts. */
const NOTES = '## Where the time goes';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  // nginx, the gRPC app, wrk and the load runs are children the cleanup kills,
  // also on a signal; the destination's process too (it also exits when this one goes).
  const cleanup = benchCleanup();
  const dir = benchTempDir(cleanup, 'weft-bench-l7-');
  let m: L7Mesh | undefined;
  try {
    m = await l7Mesh(90, { echo: false, destination: DESTINATION });
    killAtCleanup(cleanup, 'destination process', m.pids);
    const remote = m.pods.remote!;
    const remote2 = m.pods.remote2!;
    // The apps: nginx's fixed body on every address, a gRPC echo on the remote pod's.
    await startLocalNginx(dir, 'app', (d) => appConf({ dir: d }, APP));
    const grpcApp = spawnReady([
      process.execPath,
      join(import.meta.dirname, 'l7-grpc.ts'),
      'app',
      remote.ip,
      String(GRPC_APP),
    ]);
    mkdirSync(join(dir, 'certs'));
    const certs = makeNginxCerts(join(dir, 'certs'));
    const nServer = (
      await startLocalNginx(dir, 'server', (d) =>
        serverProxyConf({ dir: d }, NGINX_TLS, APP, certs.server),
      )
    ).child;
    const nClient = (
      await startLocalNginx(dir, 'client', (d) =>
        clientProxyConf({ dir: d }, NGINX_LOCAL, `${remote.ip}:${NGINX_TLS}`, certs.client),
      )
    ).child;
    await started(grpcApp, 'gRPC app');
    const be = (ip: string, port: number, name: string) => ({
      service: `shop/${name}`,
      endpoints: [{ ip, port, pod: `shop/${name}` }],
    });
    const vip = (p: number) => `${m!.vip}:${p}`;
    m.setTables(
      {
        [vip(81)]: {
          service: 'shop/app',
          endpoints: [{ ip: remote.ip, port: APP, pod: remote.key }],
        },
        [vip(83)]: {
          service: 'shop/app',
          endpoints: [{ ip: remote.ip, port: APP, pod: remote.key }],
        },
      },
      {
        byVip: new Map([
          [
            vip(80),
            portRoutes('shop/app', 80, [rule({ backends: [be(remote.ip, APP, 'remote')] })]),
          ],
          [
            vip(82),
            portRoutes('shop/app2', 82, [rule({ backends: [be(remote2.ip, APP, 'remote2')] })]),
          ],
          [vip(83), portRoutes('shop/app', 83, [])],
          // The route of :80 to a backend whose DestinationRule sets limits and outlier
          // detection that this load never reaches: what configured resilience costs.
          [
            vip(84),
            portRoutes('shop/app', 84, [rule({ backends: [be(remote.ip, APP, 'remote-dr')] })]),
          ],
          [
            vip(90),
            portRoutes(
              'shop/grpc',
              90,
              [
                rule({
                  kind: 'GRPCRoute',
                  path: '/bench.Echo/',
                  backends: [be(remote.ip, GRPC_APP, 'remote')],
                }),
              ],
              'grpc',
            ),
          ],
        ]),
        inboundProtocol: new Map(),
        trafficPolicies: new Map([
          [
            `shop/remote-dr:${APP}`,
            {
              from: 'DestinationRule shop/remote-dr',
              lb: 'EWMA' as const,
              maxConnections: 1000,
              http1MaxPendingRequests: 1000,
              http2MaxRequests: 10_000,
              maxRequestsPerConnection: 1_000_000,
              connectTimeoutMs: 5000,
              outlier: {
                consecutive5xxErrors: 5,
                consecutiveGatewayErrors: 5,
                intervalMs: 10_000,
                baseEjectionMs: 30_000,
                maxEjectionPercent: 50,
              },
            },
          ],
        ]),
      },
    );
    await m.setAuthorization([getOnlyPolicy]);
    const url = async (p: number) => {
      const a = await m!.address(p);
      return `http://${a.host}:${a.port}/`;
    };
    // Both weft proxies: this process and the destination's.
    const weftCpu = () => selfCpuMs() + procCpuMs(m!.pids);
    const nginxCpu = () => procCpuMs([...processTree(nClient.pid!), ...processTree(nServer.pid!)]);
    const none = () => 0;
    const grpcAddr = await m.address(90);
    const rows: { id: string; label: string; base: string; measure: () => Promise<Figures> }[] = [
      {
        id: 'direct',
        label: 'HTTP/1.1 direct',
        base: '',
        measure: () => wrk(`http://${remote.ip}:${APP}/`, none),
      },
      {
        id: 'nginx',
        label: 'HTTP/1.1 nginx mTLS proxy pair',
        base: 'direct',
        measure: () => wrk(`http://127.0.0.1:${NGINX_LOCAL}/`, nginxCpu),
      },
      {
        id: 'l4',
        label: 'HTTP/1.1 weft mTLS L4 (HBONE)',
        base: 'direct',
        measure: async () => wrk(await url(81), weftCpu),
      },
      {
        id: 'declared',
        label: 'HTTP/1.1 weft mTLS, HTTP-declared port, no routes',
        base: 'l4',
        measure: async () => wrk(await url(83), weftCpu),
      },
      {
        id: 'route',
        label: 'HTTP/1.1 weft mTLS + outbound route',
        base: 'nginx',
        measure: async () => wrk(await url(80), weftCpu),
      },
      {
        id: 'route-dr',
        label: 'HTTP/1.1 weft mTLS + outbound route + DestinationRule (limits, outlier detection)',
        base: 'route',
        measure: async () => wrk(await url(84), weftCpu),
      },
      {
        id: 'route-l7',
        label: 'HTTP/1.1 weft mTLS + outbound route + inbound L7 rule',
        base: 'nginx',
        measure: async () => wrk(await url(82), weftCpu),
      },
      {
        id: 'grpc-direct',
        label: 'gRPC unary direct',
        base: '',
        measure: () => grpcLoad(remote.ip, GRPC_APP, '/bench.Echo/Say', none),
      },
      {
        id: 'grpc-route',
        label: 'gRPC unary weft mTLS + GRPCRoute',
        base: 'grpc-direct',
        measure: () => grpcLoad(grpcAddr.host, grpcAddr.port, '/bench.Echo/Say', weftCpu),
      },
    ];
    // WEFT_BENCH_L7_ROWS=id,id… measures a subset (their baselines included), e.g. while tuning.
    const only = process.env.WEFT_BENCH_L7_ROWS?.split(',');
    if (only) {
      const keep = new Set(only.flatMap((id) => [id, rows.find((r) => r.id === id)?.base ?? '']));
      for (let i = rows.length - 1; i >= 0; i--) if (!keep.has(rows[i]!.id)) rows.splice(i, 1);
    }
    // Warm-up: every path answers (and pools, sessions, TLS are up) before measuring.
    for (const r of rows) {
      await r.measure().catch((e: Error) => {
        throw new Error(`${r.label}: ${e.message}`);
      });
    }
    const got = new Map<string, Figures[]>();
    // WEFT_BENCH_L7_PROFILE=file.cpuprofile: this process's CPU profile over the measured rounds.
    const profile = process.env.WEFT_BENCH_L7_PROFILE;
    const session = profile ? new Session() : undefined;
    const post = (method: string) =>
      new Promise<unknown>((resolve, reject) =>
        session!.post(method, (err, res) => (err ? reject(err) : resolve(res))),
      );
    if (session) {
      session.connect();
      await post('Profiler.enable');
      await post('Profiler.start');
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < rows.length; i++) {
        const r = rows[(i + round) % rows.length]!;
        const f = await r.measure();
        got.set(r.id, [...(got.get(r.id) ?? []), f]);
        process.stderr.write(`round ${round + 1} ${r.label}: ${Math.round(f.rps)} req/s\n`);
      }
    }
    if (session && profile) {
      const { profile: p } = (await post('Profiler.stop')) as { profile: unknown };
      writeFileSync(profile, JSON.stringify(p));
      session.disconnect();
    }
    const fig = (id: string): Figures => {
      const fs = got.get(id)!;
      return {
        rps: median(fs.map((f) => f.rps)),
        p50: median(fs.map((f) => f.p50)),
        p99: median(fs.map((f) => f.p99)),
        cpuMsPer1k: median(fs.map((f) => f.cpuMsPer1k)),
      };
    };
    const lines = rows.map((r) => {
      const f = fig(r.id);
      const ratio =
        r.base && got.has(r.base) ? `${(f.rps / fig(r.base).rps).toFixed(2)}× ${r.base}` : '';
      const vsNginx =
        r.id.startsWith('grpc') || r.id === 'direct' || r.id === 'nginx' || !got.has('nginx')
          ? ''
          : `${(f.rps / fig('nginx').rps).toFixed(2)}×`;
      const rs = got.get(r.id)!.map((x) => Math.round(x.rps));
      return `| ${r.label} | ${Math.round(f.rps)} | ${Math.min(...rs)}–${Math.max(...rs)} | ${ratio} | ${vsNginx} | ${(f.p50 / 1000).toFixed(2)} | ${(f.p99 / 1000).toFixed(2)} | ${f.cpuMsPer1k ? f.cpuMsPer1k.toFixed(1) : '–'} |`;
    });
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
    const md = `# Benchmarks: the L7 engine

Written by \`node bench/l7.ts\` on ${new Date().toISOString().slice(0, 10)}; ${ROUNDS} rounds of ${SECONDS} s per row,
rounds interleaved, each figure the median. HTTP/1.1: \`wrk -t1 -c${CONNECTIONS}\` against nginx's fixed
body; gRPC: ${GRPC_STREAMS} unary calls at once on one HTTP/2 connection (bench/l7-grpc.ts).
1-minute load average at the end: ${load} (a busy, shared machine makes every figure noisier).

The weft proxies (the client's node proxy with the L7 engine, the server's HBONE side) are two
Node processes${DESTINATION === 'process' ? '' : ' (here: one, WEFT_BENCH_L7_ONE_PROCESS=1)'} on loopback addresses, built from the agent's own code without its
datapath (test/support/l7-mesh.ts, test/support/l7-destination.ts) and run with the agent's
Node flags (bin/weft); nginx's pair is two
processes of one worker each. CPU per 1,000
requests counts the proxies only. The \`make bench\` matrix (docs/benchmarks.md) measures the
sandbox paths between real pods and nodes, its \`l7-route\` row the route + L7 policy path
through a Service's ClusterIP.

| path | requests/s | spread (rounds) | ratio | × nginx pair | p50 ms | p99 ms | proxy CPU ms / 1k req |
| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |
${lines.join('\n')}

"HTTP-declared port, no routes" is a VIP port read as HTTP with no route: every request is
parsed and balanced over the Service's endpoints; its ratio is to the L4 HBONE row.
"+ DestinationRule" is the route row to a backend whose DestinationRule sets connectionPool
limits and outlier detection that the load never reaches (docs/resilience.md); its ratio to
the route row is what configuring them costs (target: at least 0.95×).
`;
    // A subset is for tuning: the page keeps the full matrix. Its hand-written part (the
    // profile, from NOTES on) and the telemetry cost section (bench/telemetry-ab.ts) stay.
    const page = join(import.meta.dirname, '..', 'docs', 'benchmarks-l7.md');
    let notes = '';
    let was = '';
    try {
      was = readFileSync(page, 'utf8');
      if (was.includes(NOTES)) notes = `\n${was.slice(was.indexOf(NOTES))}`;
    } catch {
      // first run
    }
    if (!only) writeFileSync(page, withTelemetrySection(md + notes, was));
    process.stdout.write(md);
  } finally {
    await m?.close();
    for (const e of cleanup.dispose()) process.stderr.write(`${e.message}\n`);
  }
}

// The weft proxies run with the agent's Node flags, as bin/weft starts the agent: this
// process holds the client's proxy, and its fork, which inherits them, the destination.
// Without them, this process runs itself again with them and passes signals on.
// WEFT_BENCH_L7_NODE_FLAGS sets others, for measuring ('' for Node's defaults).
const flags =
  process.env.WEFT_BENCH_L7_NODE_FLAGS?.split(/\s+/).filter(Boolean) ?? agentNodeFlags();
if (flags.every((f) => process.execArgv.includes(f))) {
  await main();
  process.exit(0);
}
// spawnOwned: the run dies with this process even if it is killed outright.
const self = spawnOwned(
  [process.execPath, ...flags, ...process.execArgv, ...process.argv.slice(1)],
  {
    stdio: 'inherit',
  },
);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => self.kill(sig));
const [code, signal] = (await once(self, 'exit')) as [number | null, NodeJS.Signals | null];
process.exit(code ?? 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0));
