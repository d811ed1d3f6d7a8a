// What retries cost and what the retry budget holds, in the L7 engine:
//   (i) a route with a retry policy that never triggers against the same route without
//       one: requests/s, rounds interleaved (median of ROUNDS);
//   (ii) a backend in total outage (every answer 503) behind a route that retries 503
//       twice: the requests reaching the backend per request the client sent, counted at
//       the backend. Without a budget that is 3×; the budget holds it to 1.2× plus 10/s.
// The weft proxies run in this process (test/support/l7-mesh.ts, mutual TLS between the
// client's node proxy and the server's HBONE side); nginx answers (i), a counting Node
// server (ii). wrk -t1 -c8. Writes docs/benchmarks-retries.md.
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { RETRY_BUDGET } from '../agent/src/l7/retry-budget.ts';
import { type L7Mesh, l7Mesh } from '../test/support/l7-mesh.ts';
import { portRoutes, rule } from '../test/support/routes.ts';
import { run } from './l7-shared.ts';
import { startLocalNginx } from './nginx.ts';
import { appConf } from './nginx-conf.ts';
import { benchCleanup, benchTempDir } from './teardown.ts';
import { parseWrk, wrkArgs } from './wrk.ts';

const SECONDS = Number(process.env.WEFT_BENCH_RETRY_SECONDS ?? 3);
const ROUNDS = Number(process.env.WEFT_BENCH_RETRY_ROUNDS ?? 5);
const OUTAGE_SECONDS = Number(process.env.WEFT_BENCH_RETRY_OUTAGE_SECONDS ?? 12);
const CONNECTIONS = 8;
const APP = 18180;
const DOWN = 18190;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const selfCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function wrk(url: string, seconds: number, ok2xx: boolean) {
  const w = parseWrk(await run(['wrk', ...wrkArgs({ url, connections: CONNECTIONS, seconds })]));
  if (ok2xx && w.non2xx > 0) throw new Error(`${url}: ${w.non2xx} answers outside 2xx`);
  return w;
}

async function main(): Promise<void> {
  // nginx and wrk are children the cleanup kills, also on a signal.
  const cleanup = benchCleanup();
  const dir = benchTempDir(cleanup, 'weft-bench-retry-');
  let m: L7Mesh | undefined;
  const down = createServer((_req, res) => {
    reached++;
    res.writeHead(503, { 'content-length': 0 });
    res.end();
  });
  let reached = 0;
  try {
    m = await l7Mesh(92, { echo: false });
    const remote = m.pods.remote!;
    await startLocalNginx(dir, 'app', (d) => appConf({ dir: d }, APP));
    await new Promise<void>((r) => down.listen(DOWN, remote.ip, r));
    const app = { service: 'shop/app', endpoints: [{ ip: remote.ip, port: APP, pod: remote.key }] };
    const outage = {
      service: 'shop/down',
      endpoints: [{ ip: remote.ip, port: DOWN, pod: remote.key }],
    };
    const retry = { codes: [503], attempts: 2, backoff: 1 };
    const vip = (p: number) => `${m!.vip}:${p}`;
    m.setTables(
      {},
      {
        byVip: new Map([
          [vip(80), portRoutes('shop/app', 80, [rule({ backends: [app] })])],
          [vip(84), portRoutes('shop/app', 84, [rule({ backends: [app], retry })])],
          [vip(85), portRoutes('shop/down', 85, [rule({ backends: [outage], retry })])],
        ]),
        inboundProtocol: new Map(),
      },
    );
    const url = async (p: number) => {
      const a = await m!.address(p);
      return `http://${a.host}:${a.port}/`;
    };
    const rows = [
      { id: 'route', label: 'HTTP/1.1 weft mTLS + outbound route', port: 80 },
      {
        id: 'retry',
        label: 'the same + retry (codes [503], attempts 2), never triggered',
        port: 84,
      },
    ];
    for (const r of rows) await wrk(await url(r.port), 1, true);
    const got = new Map<string, number[]>();
    const cpu = new Map<string, number[]>();
    for (let round = 0; round < ROUNDS; round++)
      for (let i = 0; i < rows.length; i++) {
        const r = rows[(i + round) % rows.length]!;
        const c0 = selfCpuMs();
        const w = await wrk(await url(r.port), SECONDS, true);
        cpu.set(r.id, [...(cpu.get(r.id) ?? []), ((selfCpuMs() - c0) / w.requests) * 1000]);
        got.set(r.id, [...(got.get(r.id) ?? []), w.requestsPerSec]);
        process.stderr.write(`round ${round + 1} ${r.label}: ${Math.round(w.requestsPerSec)}\n`);
      }
    const base = median(got.get('route')!);
    const withRetry = median(got.get('retry')!);
    const baseCpu = median(cpu.get('route')!);
    const retryCpu = median(cpu.get('retry')!);
    // (ii): the budget starts empty of history (a fresh window): no earlier traffic to this port.
    reached = 0;
    const before = { ...m.engine.retryCounts };
    const w = await wrk(await url(85), OUTAGE_SECONDS, false);
    const retried = m.engine.retryCounts.retried - before.retried;
    const refused = m.engine.retryCounts.budget_exhausted - before.budget_exhausted;
    const ratio = reached / w.requests;
    const perSecond = w.requests / w.seconds;
    // The reserve (10 a second of the window) comes back each time its window passes.
    const reserve =
      RETRY_BUDGET.minPerSecond *
      RETRY_BUDGET.windowSeconds *
      Math.ceil(w.seconds / RETRY_BUDGET.windowSeconds);
    const bound = 1 + RETRY_BUDGET.ratio + reserve / w.requests;
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
    const md = `# Benchmarks: retries and the retry budget

Written by \`node bench/retries.ts\` on ${new Date().toISOString().slice(0, 10)}. The weft proxies (the client's
node proxy with the L7 engine, the server's HBONE side, mutual TLS between them) run in one Node
process on loopback addresses (test/support/l7-mesh.ts); \`wrk -t1 -c${CONNECTIONS}\`. 1-minute load
average at the end: ${load} (a busy, shared machine makes every figure noisier).

## A retry policy that does not trigger

${ROUNDS} rounds of ${SECONDS} s per row, interleaved, each figure the median; nginx answers 200.

| path | requests/s | ratio | proxy CPU ms / 1k req | ratio |
| --- | ---: | ---: | ---: | ---: |
| ${rows[0]!.label} | ${Math.round(base)} | | ${baseCpu.toFixed(1)} | |
| ${rows[1]!.label} | ${Math.round(withRetry)} | ${(withRetry / base).toFixed(3)}× | ${retryCpu.toFixed(1)} | ${(retryCpu / baseCpu).toFixed(3)}× |

Goal: ≥ 0.95× the requests/s. On a shared machine the CPU per request (both weft proxies, this
process) is the steadier figure of the two.

A request on a route with \`retry\` keeps its retry state (one small object) and, with a body, the body's chunks up to 64 KiB; every request deposits in its budget (two map
lookups).

## A backend in total outage

Every answer 503, the route retrying 503 twice (3 attempts a request without a budget),
${OUTAGE_SECONDS} s of \`wrk\`; requests counted at the backend.

| client requests | requests/s | reaching the backend | per client request | retries made | refused by the budget | budget's bound |
| ---: | ---: | ---: | ---: | ---: | ---: | ---: |
| ${w.requests} | ${Math.round(perSecond)} | ${reached} | ${ratio.toFixed(3)}× | ${retried} | ${refused} | ${bound.toFixed(3)}× |

The budget allows retries up to ${RETRY_BUDGET.ratio * 100}% of the requests in its ${RETRY_BUDGET.windowSeconds} s window plus
${RETRY_BUDGET.minPerSecond} a second of it (Linkerd's shape), so the backend sees at most 1.2× the client's requests plus
${RETRY_BUDGET.minPerSecond} a second (the bound column: 1.2 + ${reserve} / client requests over this run). The 1.2× goal is met
up to that reserve: ${RETRY_BUDGET.minPerSecond} / (requests per second), under 1% above 1,000 requests/s.
`;
    writeFileSync(join(import.meta.dirname, '..', 'docs', 'benchmarks-retries.md'), md);
    process.stdout.write(md);
  } finally {
    down.close();
    await m?.close();
    for (const e of cleanup.dispose()) process.stderr.write(`${e.message}\n`);
  }
}

await main();
process.exit(0);
