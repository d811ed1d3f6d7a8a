// What one row measures in one round, and its figures over all rounds
// (medians). Pure.
import type { RowId } from './config.ts';
import type { RowSpec } from './matrix.ts';
import { median } from './stats.ts';

/** Raw TCP, one connection at a time. Latencies in µs. */
export interface TcpFigures {
  /** Bulk throughput, MB/s (10^6 bytes). */
  mbps: number;
  p50: number;
  p90: number;
  p99: number;
  /** New connections per second, each carrying a 1-byte round trip. */
  cps: number;
  /** CPU of the whole sandbox per 1,000 round trips, ms. */
  cpuMsPer1k: number;
}

/** HTTP/1.1 keep-alive under wrk. Latencies in µs. */
export interface HttpFigures {
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  /** CPU of the whole sandbox per 1,000 requests, ms. */
  cpuMsPer1k: number;
}

export interface RowSample {
  tcp?: TcpFigures;
  http?: HttpFigures;
  /** RSS of the row's proxies at the end of the round, MiB; NaN for direct. */
  rssMiB: number;
  errors: string[];
  /** What the figures need said beside them (not a failure). */
  notes: string[];
}

export interface RowResult {
  id: RowId;
  label: string;
  proxy: RowSpec['proxy'];
  baseline: RowSpec['baseline'];
  /** Which tests the row runs. */
  measures: { tcp: boolean; http: boolean };
  tcp?: TcpFigures;
  http?: HttpFigures;
  rssMiB: number;
  rounds: number;
  errors: string[];
  notes: string[];
}

function medians<T extends object>(xs: T[]): T {
  const out = {} as Record<string, number>;
  for (const k of Object.keys(xs[0]!)) {
    out[k] = median(xs.map((x) => (x as Record<string, number>)[k]!));
  }
  return out as T;
}

/** A row's figures: each field the median of its rounds; a round where it failed makes it NaN. */
export function combine(spec: RowSpec, samples: readonly RowSample[]): RowResult {
  const pick = <K extends 'tcp' | 'http'>(k: K) => {
    if (!spec[k]) return undefined;
    const got = samples.map((s) => s[k]);
    if (got.length === 0 || got.some((x) => x === undefined)) {
      return undefined;
    }
    return medians(got as NonNullable<RowSample[K]>[]);
  };
  return {
    id: spec.id,
    label: spec.label,
    proxy: spec.proxy,
    baseline: spec.baseline,
    measures: { tcp: spec.tcp, http: spec.http },
    tcp: pick('tcp'),
    http: pick('http'),
    rssMiB: spec.proxy === 'none' ? Number.NaN : median(samples.map((s) => s.rssMiB)),
    rounds: samples.length,
    errors: [...new Set(samples.flatMap((s) => s.errors))],
    // Counts differ from round to round; the first round's wording stands for the rest.
    notes: samples.find((s) => s.notes.length)?.notes ?? [],
  };
}

export const FAILED_TCP: TcpFigures = {
  mbps: Number.NaN,
  p50: Number.NaN,
  p90: Number.NaN,
  p99: Number.NaN,
  cps: Number.NaN,
  cpuMsPer1k: Number.NaN,
};

export const FAILED_HTTP: HttpFigures = {
  rps: Number.NaN,
  p50: Number.NaN,
  p90: Number.NaN,
  p99: Number.NaN,
  cpuMsPer1k: Number.NaN,
};
