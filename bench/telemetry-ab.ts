// What the agent's telemetry costs a proxied HTTP request, A/B in one run:
// metrics on (the default) against off, tracing at 1% sampling against metrics
// alone, the access log against metrics alone (targets in telemetry-report.ts).
// Each configuration is a proxy process of its own (this file, `serve`), built
// from the agent's code on loopback addresses of its own (test/support/l7-mesh.ts):
// the client's node proxy with the L7 engine, an outbound route, HBONE to the
// server's node proxy, which authorizes each request (an inbound L7 rule) and
// hands it to nginx. wrk drives each in turn, rounds rotating the order. Writes
// the "What telemetry costs" section of docs/benchmarks-l7.md.
//   node bench/telemetry-ab.ts                 (WEFT_BENCH_TELEMETRY_ROUNDS, _SECONDS)
//   node bench/telemetry-ab.ts serve CONFIG TAG APP_PORT OTLP_URL LOG_FILE   (one proxy)
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { emptyPolicy } from '../agent/src/compile/policy.ts';
import type { RequestRecord } from '../agent/src/telemetry/index.ts';
import {
  AccessLogWriter,
  AgentMetrics,
  accessLogDestination,
  observers,
  requestSinks,
  startTracing,
} from '../agent/src/telemetry/index.ts';
import { bindBareNode } from '../test/support/bare-node.ts';
import { l7Mesh, type MeshTelemetry } from '../test/support/l7-mesh.ts';
import { portRoutes, rule } from '../test/support/routes.ts';
import { getOnlyPolicy } from './l7-shared.ts';
import { currentLoad, describeMachine } from './machine.ts';
import { startLocalNginx } from './nginx.ts';
import { appConf } from './nginx-conf.ts';
import { benchCleanup, benchTempDir, spawnOwned } from './teardown.ts';
import {
  CONFIGS,
  type Config,
  ROWS,
  rowResults,
  type Sample,
  telemetrySection,
  withTelemetrySection,
} from './telemetry-report.ts';
import { parseWrk, wrkArgs } from './wrk.ts';

const ROUNDS = Number(process.env.WEFT_BENCH_TELEMETRY_ROUNDS ?? 5);
const SECONDS = Number(process.env.WEFT_BENCH_TELEMETRY_SECONDS ?? 3);
const APP = 18090;
const SCRAPE_MS = 5000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The agent's telemetry as `weft agent` wires it for one configuration. */
async function telemetryOf(
  config: Config,
  otlp: string,
  logFile: string,
  linesPerSecond?: number,
): Promise<MeshTelemetry> {
  if (config === 'off') return { observer: null };
  const metrics = new AgentMetrics({ node: 'bench', tables: () => emptyPolicy });
  // weft's own families read a status document when scraped: a node's, without workloads.
  bindBareNode(metrics, 'bench');
  // A Prometheus scrape every few seconds, as a real one would.
  setInterval(() => void metrics.render(), SCRAPE_MS).unref();
  if (config === 'metrics') return { observer: metrics.tcp, requests: metrics.requests };
  if (config === 'tracing') {
    const tracing = await startTracing('bench', {
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp,
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.01',
    });
    return { observer: metrics.tcp, requests: metrics.requests, tracing };
  }
  const lines = new AccessLogWriter(
    accessLogDestination(logFile),
    linesPerSecond ? { linesPerSecond } : {},
  );
  return {
    observer: observers(metrics.tcp, lines) ?? null,
    requests: requestSinks(metrics.requests, lines) ?? null,
  };
}

/** One proxy: prints its listening address as JSON, serves until killed. */
async function serve(config: Config, tag: number, otlp: string, logFile: string): Promise<void> {
  const m = await l7Mesh(tag, {
    echo: false,
    telemetry: await telemetryOf(config, otlp, logFile),
  });
  const remote = m.pods.remote2!;
  m.setTables(
    {},
    {
      byVip: new Map([
        [
          `${m.vip}:82`,
          portRoutes('shop/app', 82, [
            rule({
              backends: [
                {
                  service: 'shop/app',
                  endpoints: [{ ip: remote.ip, port: APP, pod: remote.key }],
                },
              ],
            }),
          ]),
        ],
      ]),
      inboundProtocol: new Map(),
    },
  );
  await m.setAuthorization([getOnlyPolicy]);
  process.stdout.write(`${JSON.stringify(await m.address(82))}\n`);
  // An exit on SIGTERM, so `node --cpu-prof` writes its profile.
  process.once('SIGTERM', () => process.exit(0));
}

function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function wrk(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawnOwned(['wrk', ...wrkArgs({ url, connections: 8, seconds: SECONDS })], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    c.stdout!.on('data', (d) => {
      out += d;
    });
    c.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`wrk exited ${code}`))));
  });
}

async function measure(p: { pid: number; url: string }): Promise<Sample> {
  const c0 = cpuMs(p.pid);
  const w = parseWrk(await wrk(p.url));
  if (w.non2xx > 0) throw new Error(`${p.url}: ${w.non2xx} answers outside 2xx`);
  return { rps: w.requestsPerSec, cpuMsPer1k: ((cpuMs(p.pid) - c0) / w.requests) * 1000 };
}

/** One request as each proxy reports it: the client's node and the server's. */
const record = (reporter: 'source' | 'destination'): RequestRecord => ({
  reporter,
  sourcePod: 'shop/client',
  destinationPod: 'shop/remote2',
  sourcePrincipal: 'spiffe://cluster.local/ns/shop/sa/client',
  destinationPrincipal: 'spiffe://cluster.local/ns/shop/sa/server',
  destinationService: 'shop/app',
  route: 'HTTPRoute shop/app 0',
  protocol: 'http',
  method: 'GET',
  path: '/',
  authority: '127.91.1.100:82',
  status: 200,
  responseFlags: '',
  mtls: true,
  start: Date.now(),
  durationMs: 1.5,
  requestBytes: 0,
  responseBytes: 66,
});

/**
 * CPU µs the telemetry of one configuration adds to one request on both proxies,
 * beyond what `base` adds: each proxy's span started and ended, its record given
 * to the sinks. In one tight loop, so the figure does not move with the machine's
 * load as throughput does. The access log writes every line (no per-second cap).
 */
async function hookMicros(config: Config, base: Config, otlp: string, dir: string) {
  const cost = async (c: Config) => {
    const t = await telemetryOf(c, otlp, join(dir, `loop-${c}.log`), Number.MAX_SAFE_INTEGER);
    await sleep(200); // the access log's file open
    const src = record('source');
    const dst = record('destination');
    const once = () => {
      const a = t.tracing?.start('source', undefined, src.start);
      t.requests?.request(src);
      a?.end(src);
      const b = t.tracing?.start('destination', a?.traceparent, dst.start);
      t.requests?.request(dst);
      b?.end(dst);
    };
    for (let i = 0; i < 5000; i++) once();
    const n = 50_000;
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) once();
    const used = process.cpuUsage(c0);
    await t.tracing?.shutdown();
    return (used.user + used.system) / n;
  };
  return (await cost(config)) - (await cost(base));
}

async function main(): Promise<void> {
  const machine = describeMachine();
  // nginx, the proxies and wrk are children the cleanup kills, also on a signal.
  const cleanup = benchCleanup();
  const dir = benchTempDir(cleanup, 'weft-bench-telemetry-');
  // The OTLP receiver: takes the spans and forgets them.
  const receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('{}'));
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const otlp = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  try {
    await startLocalNginx(dir, 'app', (d) => appConf({ dir: d }, APP));
    const proxies = new Map<Config, { pid: number; url: string }>();
    for (const [i, config] of CONFIGS.entries()) {
      const child = spawnOwned(
        [
          process.execPath,
          import.meta.filename,
          'serve',
          config,
          String(91 + i),
          otlp,
          join(dir, `access-${config}.log`),
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      const addr = await new Promise<{ host: string; port: number }>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (d) => {
          out += d;
          if (out.includes('\n')) resolve(JSON.parse(out));
        });
        child.once('exit', (code) => reject(new Error(`${config} proxy exited (${code})`)));
      });
      proxies.set(config, { pid: child.pid!, url: `http://${addr.host}:${addr.port}/` });
    }
    await sleep(300);
    // Warm-up: sessions, pools and the JIT, before anything counts.
    for (const p of proxies.values()) await measure(p);
    const rounds: Record<Config, Sample>[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const got = {} as Record<Config, Sample>;
      for (let i = 0; i < CONFIGS.length; i++) {
        const config = CONFIGS[(i + round) % CONFIGS.length]!;
        got[config] = await measure(proxies.get(config)!);
        process.stderr.write(
          `round ${round + 1} ${config}: ${Math.round(got[config].rps)} req/s, ${got[config].cpuMsPer1k.toFixed(1)} ms CPU / 1k\n`,
        );
      }
      rounds.push(got);
    }
    if (!existsSync(join(dir, 'access-access.log')))
      throw new Error('the access log configuration wrote no file');
    const hooks = {} as Record<Config, number>;
    for (const r of ROWS) hooks[r.config] = await hookMicros(r.config, r.base, otlp, dir);
    machine.loadEnd = currentLoad();
    const figures = { machine, seconds: SECONDS, rounds, hookMicros: hooks };
    const section = telemetrySection(figures);
    const page = new URL('../docs/benchmarks-l7.md', import.meta.url);
    writeFileSync(page, withTelemetrySection(readFileSync(page, 'utf8'), section));
    process.stdout.write(section);
    const missed = rowResults(figures).filter((r) => !r.met);
    if (missed.length) process.stderr.write(`missed: ${missed.map((r) => r.label).join('; ')}\n`);
  } finally {
    receiver.close();
    for (const e of cleanup.dispose()) process.stderr.write(`${e.message}\n`);
  }
}

if (process.argv[2] === 'serve') {
  const [config, tag, otlp, logFile] = process.argv.slice(3);
  if (!CONFIGS.includes(config as Config)) throw new Error(`serve: no configuration ${config}`);
  await serve(config as Config, Number(tag), otlp!, logFile!);
} else {
  await main();
  process.exit(0);
}
