// The benchmark's tables (terminal and Markdown) and docs/benchmarks.md. Pure:
// everything comes in as data, text goes out.
import { type BenchConfig, KNOBS, QUICK } from './config.ts';
import type { Machine } from './machine.ts';
import { APP_BODY } from './nginx-conf.ts';
import type { RowResult } from './results.ts';
import { added, ratio } from './stats.ts';

export interface BenchReport {
  machine: Machine;
  cfg: BenchConfig;
  rows: RowResult[];
  /** Wall time of the matrix (sandboxes up to down), seconds. */
  seconds: number;
}

/** A figure, or 'failed' when it was not measured. */
export function num(n: number | undefined, digits = 0): string {
  if (n === undefined || Number.isNaN(n)) return 'failed';
  return n.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** x as a percentage of direct (throughput). */
export function pctOf(x: number | undefined, base: number | undefined): string {
  const r = ratio(x ?? Number.NaN, base ?? Number.NaN);
  return Number.isNaN(r) ? 'failed' : `${Math.round(r * 100)}%`;
}

/** x as a multiple of direct (CPU cost). */
export function timesOf(x: number | undefined, base: number | undefined): string {
  const r = ratio(x ?? Number.NaN, base ?? Number.NaN);
  return Number.isNaN(r) ? 'failed' : `${r.toFixed(1)}×`;
}

/** What x adds to direct, signed (latency). */
export function plus(x: number | undefined, base: number | undefined): string {
  const d = added(x ?? Number.NaN, base ?? Number.NaN);
  if (Number.isNaN(d)) return 'failed';
  return `${d < 0 ? '−' : '+'}${num(Math.abs(d))}`;
}

type Table = { head: string[]; align: ('l' | 'r')[]; body: string[][] };

const rss = (r: RowResult) => (r.proxy === 'none' ? '' : num(r.rssMiB));

/** The row a row's ratios are to (itself for a baseline). */
const baseOf = (rows: readonly RowResult[], r: RowResult) =>
  rows.find((x) => x.id === (r.baseline ?? r.id));

export function tcpTable(rows: readonly RowResult[]): Table {
  const body = rows
    .filter((r) => r.measures.tcp)
    .map((r) => {
      const t = r.tcp;
      const d = baseOf(rows, r)?.tcp;
      const self = r.baseline === null;
      return [
        r.label,
        num(t?.mbps),
        self ? '' : pctOf(t?.mbps, d?.mbps),
        num(t?.p50),
        self ? '' : plus(t?.p50, d?.p50),
        num(t?.p99),
        self ? '' : plus(t?.p99, d?.p99),
        num(t?.cps),
        self ? '' : pctOf(t?.cps, d?.cps),
        num(t?.cpuMsPer1k, 1),
        self ? '' : timesOf(t?.cpuMsPer1k, d?.cpuMsPer1k),
        rss(r),
      ];
    });
  return {
    head: [
      'path',
      'MB/s',
      'vs direct',
      'RTT p50 µs',
      'added',
      'RTT p99 µs',
      'added',
      'conn/s',
      'vs direct',
      'CPU ms / 1k RTT',
      'vs direct',
      'proxy RSS MiB',
    ],
    align: ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    body,
  };
}

export function httpTable(rows: readonly RowResult[]): Table {
  const body = rows
    .filter((r) => r.measures.http)
    .map((r) => {
      const h = r.http;
      const d = baseOf(rows, r)?.http;
      const self = r.baseline === null;
      return [
        r.label,
        num(h?.rps),
        self ? '' : pctOf(h?.rps, d?.rps),
        num(h?.p50),
        self ? '' : plus(h?.p50, d?.p50),
        num(h?.p99),
        self ? '' : plus(h?.p99, d?.p99),
        num(h?.cpuMsPer1k, 1),
        self ? '' : timesOf(h?.cpuMsPer1k, d?.cpuMsPer1k),
        rss(r),
      ];
    });
  return {
    head: [
      'path',
      'requests/s',
      'vs direct',
      'p50 µs',
      'added',
      'p99 µs',
      'added',
      'CPU ms / 1k req',
      'vs direct',
      'proxy RSS MiB',
    ],
    align: ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    body,
  };
}

export function markdownTable(t: Table): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [
    line(t.head),
    line(t.align.map((a) => (a === 'r' ? '---:' : '---'))),
    ...t.body.map(line),
  ].join('\n');
}

/** Columns padded to their widest cell, numbers right-aligned. */
export function textTable(t: Table): string {
  const all = [t.head, ...t.body];
  const w = t.head.map((_, i) => Math.max(...all.map((r) => [...(r[i] ?? '')].length)));
  const pad = (s: string, i: number) => {
    const fill = ' '.repeat(w[i]! - [...s].length);
    return t.align[i] === 'r' ? fill + s : s + fill;
  };
  return all.map((r) => r.map(pad).join('  ').trimEnd()).join('\n');
}

/** What a terminal shows at the end of a run. */
export function renderConsole(rows: readonly RowResult[]): string {
  const parts = [
    'TCP, one connection (across nodes unless the path says same node)',
    textTable(tcpTable(rows)),
    '',
    'HTTP (wrk), across nodes',
    textTable(httpTable(rows)),
  ];
  const f = failures(rows);
  if (f.length) parts.push('', 'Failed measurements:', ...f);
  const n = notes(rows);
  if (n.length) parts.push('', 'Notes:', ...n);
  return `${parts.join('\n')}\n`;
}

function failures(rows: readonly RowResult[]): string[] {
  return rows.flatMap((r) => r.errors.map((e) => `- ${r.label}: ${e}`));
}

function notes(rows: readonly RowResult[]): string[] {
  return rows.flatMap((r) => r.notes.map((e) => `- ${r.label}: ${e}`));
}

const check = (ok: boolean | undefined) =>
  ok === undefined ? 'not measured' : ok ? 'met' : '**not met**';

/** The targets of the earlier issues, against this run's figures (across nodes). */
export function targetsTable(rows: readonly RowResult[]): string {
  const d = rows.find((r) => r.id === 'direct')?.tcp;
  const l4 = rows.find((r) => r.id === 'l4')?.tcp;
  const tls = rows.find((r) => r.id === 'mtls')?.tcp;
  const has = (...xs: (number | undefined)[]) =>
    xs.every((x) => x !== undefined && !Number.isNaN(x));
  const lines: string[][] = [];
  if (l4 && d) {
    lines.push(
      [
        'L4: throughput ≥ 35% of direct',
        pctOf(l4.mbps, d.mbps),
        check(has(l4.mbps, d.mbps) ? l4.mbps / d.mbps >= 0.35 : undefined),
      ],
      [
        'L4: ≤ 60 µs added at p50',
        `${plus(l4.p50, d.p50)} µs`,
        check(has(l4.p50, d.p50) ? l4.p50 - d.p50 <= 60 : undefined),
      ],
    );
  }
  if (tls && d) {
    lines.push(
      [
        'mTLS: throughput ≥ 25% of direct',
        pctOf(tls.mbps, d.mbps),
        check(has(tls.mbps, d.mbps) ? tls.mbps / d.mbps >= 0.25 : undefined),
      ],
      [
        'mTLS: ≤ 150 µs added at p50',
        `${plus(tls.p50, d.p50)} µs`,
        check(has(tls.p50, d.p50) ? tls.p50 - d.p50 <= 150 : undefined),
      ],
      [
        'mTLS: ≤ 400 µs added at p99',
        `${plus(tls.p99, d.p99)} µs`,
        check(has(tls.p99, d.p99) ? tls.p99 - d.p99 <= 400 : undefined),
      ],
      ['mTLS: new connections/s vs direct (reported, no target)', pctOf(tls.cps, d.cps), ''],
      [
        'Istio ambient anchor (two ztunnels): +170 µs p90, +200 µs p99',
        `${plus(tls.p90, d.p90)} µs p90, ${plus(tls.p99, d.p99)} µs p99`,
        '(their hardware, not this machine)',
      ],
    );
  }
  if (!lines.length) return 'Not measured in this run.';
  return markdownTable({ head: ['target', 'measured', ''], align: ['l', 'l', 'l'], body: lines });
}

function knobsTable(cfg: BenchConfig): string {
  const body = Object.entries(KNOBS).map(([name, k]) => [
    `\`${name}\``,
    k.what,
    k.default,
    String(cfg[k.field]),
  ]);
  body.push([
    '`WEFT_BENCH_ONLY`',
    'comma-separated rows to measure (direct always is): direct, l4, mtls, l7, nginx, splice; docs are then not written',
    'all',
    cfg.only ? cfg.only.join(',') : 'all',
  ]);
  body.push([
    '`BENCH_QUICK`',
    `1: the main rows (${QUICK.rows.join(', ')}), one round, ${Object.entries(QUICK.defaults)
      .filter(([k]) => k !== 'WEFT_BENCH_ROUNDS')
      .map(([k, v]) => `${k.replace('WEFT_BENCH_', '').toLowerCase()} ${v}`)
      .join(', ')}; docs are not written (\`make bench BENCH_QUICK=1\` runs only this matrix)`,
    'off',
    cfg.quick ? '1' : 'off',
  ]);
  body.push([
    '`WEFT_BENCH_PROFILE`',
    "a directory: both agents' CPU profiles (V8, over the inspector) during each weft HTTP row, and their user and system CPU per row on stderr",
    'none',
    cfg.profile ?? 'none',
  ]);
  return markdownTable({
    head: ['variable', 'what', 'default', 'this run'],
    align: ['l', 'l', 'r', 'r'],
    body,
  });
}

export function renderDoc(r: BenchReport): string {
  const m = r.machine;
  const { cfg } = r;
  const f = failures(r.rows);
  const n = notes(r.rows);
  return `# Benchmarks

Written by \`make bench\` (bench/run.ts) on ${m.date.slice(0, 10)}; the matrix took ${Math.round(r.seconds)} s.
Every ratio compares paths measured in the same run on the same machine, rounds interleaved.

Machine: ${m.cores} × ${m.cpu}, Linux ${m.kernel}, Node ${m.node}; 1-minute load average
${m.loadStart.toFixed(2)} at the start, ${m.loadEnd.toFixed(2)} at the end (a busy machine makes every figure noisier).

![Throughput, latency and CPU of each path](benchmarks.svg)

## What is measured

Every path goes from a client pod on node-1 to a server pod on node-2 of a 2-node sandbox
(docs/sandbox.md), except the "same node" paths, whose server pod is on node-1 too and whose
ratios are to the direct path on one node:

| path | how |
| --- | --- |
| direct | pods opted out of the mesh (\`weft.dev/mesh: disabled\`): the kernel's routing only |
| weft L4 plaintext | enrolled pods, sandbox without an issuer: two proxy hops (client node outbound, server node inbound), bytes carried as they are |
| weft mTLS L4 (HBONE) | enrolled pods: HTTP/2 CONNECT over mutual TLS 1.3 between the two node proxies |
| weft mTLS + L7 policy | as above, to a pod selected by an AuthorizationPolicy with HTTP fields (GET from the client's identity): the inbound proxy parses every request |
| weft mTLS + HTTPRoute + L7 policy | the same pod through a Service's ClusterIP whose HTTPRoute binds it: the client's node proxy routes and balances each request (the L7 engine), the server's authorizes it |
| nginx mTLS proxy pair | nginx (apt), one worker each: on the client pod's loopback it originates mutual TLS 1.3 (keep-alive upstream pool) to an nginx in the server pod that verifies the client certificate and forwards to the app; certificates from openssl (ECDSA P-256) |
| direct, same node | two pods of node-1 opted out of the mesh |
| weft L4 plaintext, same node | enrolled pods of node-1, sandbox without an issuer: one proxy, outbound handed to inbound in process |
| weft mTLS, same node (in-process hand-off) | enrolled pods of node-1 in the mTLS sandbox: the same hand-off (no TLS on the way: it would never leave the node), with identity and policy as over HBONE |
| weft L4 plaintext + splice | L4 plaintext with the sockops/sk_msg splice of the app↔proxy loopback hop (\`weft agent --splice\`); it stays off by default, see docs/architecture.md |

The direct and nginx paths share the sandbox of the mTLS paths; L4 plaintext and splice have
sandboxes of their own. All sandboxes are up at once, and each round measures every path in
turn (starting one path later each round), so drift of a shared machine hits all alike; each
figure is the median of ${cfg.rounds} round${cfg.rounds === 1 ? '' : 's'}. Before measuring, a GET and a POST
prove which path answers (the L7 paths must answer the POST with 403, the others with 200),
and every round checks the weft proxies' connection counters: meshed paths must have gone
through them, direct and nginx must not have.

- **TCP** (Node programs, the same for every path): throughput of one connection writing
  256 KiB chunks for ${cfg.bulkMs / 1000} s, counted by the server (MB/s = 10⁶ bytes/s); ${cfg.pings.toLocaleString('en-US')} sequential 1-byte
  round trips on one connection after 2,000 warm-up (RTT percentiles); connections one after
  another for ${cfg.connectMs / 1000} s, each connect, 1 byte there and back, close.
- **HTTP**: wrk (apt), started in the client pod's netns and cgroup like the TCP clients (so
  an enrolled pod's connections are redirected), 1 thread, ${cfg.httpConnections} keep-alive connections, ${cfg.httpSeconds} s, against an app that
  is nginx (one worker) answering every request with a fixed ${Buffer.byteLength(APP_BODY)}-byte body. Latency is under
  that load (not an idle round trip).
- **CPU**: \`usage_usec\` of the sandbox's cgroup v2 \`cpu.stat\`, which holds every pod
  (client, server, nginx instances) and both agents, over the measured window: the round trips
  (per 1,000 round trips) or the wrk run (per 1,000 requests). It includes the load
  generator and the app, the same on every path, so the difference to direct is what the
  mesh or proxy costs.
- **proxy RSS**: VmRSS at the end of each round of both nodes' agents (weft paths) or of both
  nginx proxies, master and worker (nginx path); the median over rounds. The agents serve all
  paths of their sandbox, so theirs is the memory after all traffic so far.

## TCP, one connection

${markdownTable(tcpTable(r.rows))}

## HTTP

${markdownTable(httpTable(r.rows))}
${f.length ? `\nFailed measurements:\n\n${f.join('\n')}\n` : ''}${n.length ? `\nNotes:\n\n${n.join('\n')}\n` : ''}
## The L7 engine

The L7 engine's rows (HTTP/1.1 through an outbound route + mTLS, with and without an inbound L7
rule; an HTTP-declared port without routes against L4; gRPC unary against direct) are written
by \`node bench/l7.ts\` to [docs/benchmarks-l7.md](benchmarks-l7.md), each a ratio in one run,
with the spread of its rounds and a profile breakdown. The matrix above has the same path
between real pods and nodes as its \`l7-route\` row (a Service with an HTTPRoute in front of
the L7-policy pod, through its ClusterIP; \`WEFT_BENCH_ONLY=l7,l7-route,nginx\` measures it
alone: 647 requests/s against nginx's 6,289 in a 3-round run, 800 ms CPU per 1,000 requests
for the whole sandbox (both agents, wrk and the app; 26 on the direct path)).
With \`WEFT_BENCH_PROFILE\`, each agent's own CPU on that row was 360 µs per request (260 user,
100 system) on the client's node and 400 (280 + 120) on the server's, against 90 (50 + 40) each on
the L4 HBONE row of the same run: the L7 engine's JavaScript costs each agent about 220 µs of user
time per request there, where bench/l7.ts measures about 140 per proxy. Both agents' profiles
show the same shape as bench/l7.ts's (Node's HTTP client and server machinery and socket writes;
weft's own functions under 10%); the extra is spread thin: on a 2-core machine running wrk,
nginx and both agents, every hop is a context switch, and sampled time inside \`writev\` doubles
(the writer is preempted by the reader it wakes).

Where the route + mTLS + inbound-rule row stands: 0.23–0.35× the nginx mTLS proxy pair (the
issue asks for 0.6×). Moving the destination onto the engine cut the inbound rule's own cost
2.5× (about 200 → 80 ms CPU per 1,000 requests), but most of the path's CPU is not weft's code
(5% of it): socket writes are 41% (on loopback the writer pays the receiver's TCP work too;
the response to the client alone is 22%), Node's stream, event and HTTP machinery another
third. What would reach 1.0×:

- **Fewer hops through JavaScript.** Per request, one Node thread parses HTTP/1.1 twice (client
  side, destination side), runs two \`ClientRequest\`s, frames HBONE's HTTP/2 both ways and
  writes six sockets; nginx's pair spreads its fewer steps over two processes. Serving the
  destination's check on the HBONE stream without a second HTTP/1.1 client (answering the app's
  bytes straight back, with llhttp only watching message boundaries) would remove one parse,
  one \`ClientRequest\` and its \`http.Agent\` bookkeeping (about 10% together).
- **Bodies and unchanged heads by splice or sockmap**: after the head is read and decided, the
  body and the response could move in the kernel (the L4 path's relay does this for whole
  connections), leaving JavaScript one read and one write of the head per request.
- **A worker per core** for the engine (the node proxy is one thread today), as nginx runs a
  worker per core: on a 2-core node this alone is worth up to 2× under load.
- **Batching writes across requests** of one connection (pipelined or concurrent): one write
  per tick per socket instead of one per response.

## Against the targets (TCP, across nodes)

${targetsTable(r.rows)}

## Settings

Shorter settings make a quicker, noisier run:

${knobsTable(cfg)}

\`WEFT_BENCH_ROUNDS\` and \`WEFT_BENCH_CONNECT_MS\` are read by the policy benchmark
(bench/policy.ts, docs/benchmarks-policy.md) as well, and \`WEFT_BENCH_ROUNDS\` and
\`WEFT_BENCH_BULK_MS\` by the HBONE proxy pair's CPU benchmark (bench/hbone-cpu.ts,
docs/benchmarks-hbone.md).
`;
}
