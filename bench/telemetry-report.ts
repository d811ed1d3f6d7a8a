// The telemetry cost bench's section (bench/telemetry-ab.ts) of
// docs/benchmarks-l7.md, and the targets it is judged by. Pure: figures in,
// text out. The section sits between marker comments, so bench/l7.ts keeps it
// when it rewrites the page.
import type { Machine } from './machine.ts';
import { markers, withSection } from './sections.ts';
import { median } from './stats.ts';

/** What each configuration of the agent's telemetry adds, in the order measured. */
export const CONFIGS = ['off', 'metrics', 'tracing', 'access'] as const;
export type Config = (typeof CONFIGS)[number];

/** Each row: the configuration, what it is compared with, the most it may cost (of requests/s). */
export const ROWS: { config: Config; base: Config; label: string; target: number }[] = [
  { config: 'metrics', base: 'off', label: 'metrics on (the default) against off', target: 0.05 },
  { config: 'tracing', base: 'metrics', label: 'tracing at 1% sampling', target: 0.03 },
  { config: 'access', base: 'metrics', label: 'access log on (a file)', target: 0.1 },
];

export interface Sample {
  rps: number;
  /** The proxy process's CPU per 1,000 requests (ms). */
  cpuMsPer1k: number;
}

export interface TelemetryFigures {
  machine: Machine;
  seconds: number;
  /** rounds[i][config]: one measurement of each configuration per round. */
  rounds: Record<Config, Sample>[];
  /** CPU µs each row's configuration adds to one request (both proxies) beyond its base, in a loop. */
  hookMicros: Partial<Record<Config, number>>;
}

export interface RowResult {
  label: string;
  rps: number;
  baseRps: number;
  /** Median over rounds of (1 − rps / the same round's base rps): the cost in requests/s. */
  cost: number;
  /** Median over rounds of cpu / base cpu − 1: the cost in CPU per request. */
  cpuCost: number;
  /** CPU µs the configuration adds per request (hookMicros), and as a share of the proxies' CPU per request with telemetry off. */
  hookUs: number;
  share: number;
  target: number;
  /** Judged by the share: on a CPU-bound proxy requests/s fall by share / (1 + share), less than the share. */
  met: boolean;
}

export function rowResults(f: TelemetryFigures): RowResult[] {
  const offUs = median(f.rounds.map((x) => x.off.cpuMsPer1k));
  return ROWS.map((r) => {
    const cost = median(f.rounds.map((x) => 1 - x[r.config].rps / x[r.base].rps));
    const hookUs = f.hookMicros[r.config] ?? Number.NaN;
    const share = hookUs / offUs;
    return {
      label: r.label,
      rps: median(f.rounds.map((x) => x[r.config].rps)),
      baseRps: median(f.rounds.map((x) => x[r.base].rps)),
      cost,
      cpuCost: median(f.rounds.map((x) => x[r.config].cpuMsPer1k / x[r.base].cpuMsPer1k - 1)),
      hookUs,
      share,
      target: r.target,
      met: share <= r.target,
    };
  });
}

const { begin: BEGIN, end: END } = markers('telemetry');
const pct = (x: number) => `${x >= 0 ? '' : '−'}${Math.abs(x * 100).toFixed(1)}%`;

export function telemetrySection(f: TelemetryFigures): string {
  const m = f.machine;
  const rows = rowResults(f)
    .map(
      (r) =>
        `| ${r.label} | ${r.hookUs.toFixed(1)} | ${pct(r.share)} | ≤ ${pct(r.target)} | ${r.met ? 'met' : 'missed'} | ${Math.round(r.baseRps)} → ${Math.round(r.rps)} | ${pct(r.cost)} | ${pct(r.cpuCost)} |`,
    )
    .join('\n');
  return `${BEGIN}
## What telemetry costs

\`node bench/telemetry-ab.ts\` (part of \`make bench\`): the HTTP/1.1 path with an outbound route
and an inbound L7 rule (both proxies report every request), one proxy process per
configuration, each built from the agent's code (test/support/l7-mesh.ts) and wired as the
agent wires it: off (no metrics, no traces, no access log); metrics (the default:
\`AgentMetrics\` with Node's runtime metrics, scraped every 5 s); tracing (metrics and spans at
\`parentbased_traceidratio\` 0.01, exported by OTLP to a local receiver); access log (metrics
and one JSON line per request and connection, appended to a file). \`wrk -t1 -c8\` for
${f.seconds} s per configuration, ${f.rounds.length} rounds, the configurations' order rotated each round;
each cost is the median over rounds of that round's pair. ${m.cores} × ${m.cpu}, Node ${m.node},
${m.date.slice(0, 10)}; 1-minute load average ${m.loadStart.toFixed(1)} at the start and ${m.loadEnd.toFixed(1)} at the end.

| A/B | added CPU µs / request | share of the proxies' CPU / request (off: ${Math.round(median(f.rounds.map((x) => x.off.cpuMsPer1k)))} µs) | target | | requests/s (base → with) | cost in requests/s | cost in CPU / request |
| --- | ---: | ---: | ---: | --- | --- | ---: | ---: |
${rows}

How it is judged: the added CPU per request (both proxies' spans, records, metrics and lines,
50,000 requests in one loop, less the same loop with the base configuration) as a share of
what the proxies spend on a request with telemetry off (their process's CPU over wrk's
requests, median of the rounds). The proxy is bound by its CPU, so requests/s fall by at
most that share. The end-to-end columns are the same A/B measured through the proxies; on
this shared machine (2 cores, the load average above) a configuration's rate moves by more
than the targets between rounds, so they show the direction, not a figure within a few
percent, and a negative cost is noise. The access log loop writes every line; the agent
writes at most 1,000 a second (docs/observability.md), so above that rate it costs less.
${END}
`;
}

/** page with its telemetry section replaced by (or, if it has none, followed by) section's. */
export function withTelemetrySection(page: string, section: string): string {
  return withSection(page, section, 'telemetry');
}
