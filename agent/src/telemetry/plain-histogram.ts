// A histogram family whose series are plain numbers, registered with a
// prom-client registry beside its own metrics and read when scraped. prom-client's
// Histogram hashes and checks a series' labels on every observation, even through
// a bound child (Istio's request histograms have 25 labels, three per request on
// each proxy); here a request finds its series once (IstioMetrics keeps it) and an
// observation is a bucket search and three additions.
import type { Metric, Registry } from 'prom-client';

type Labels = Record<string, string>;

export interface HistogramSeries {
  readonly labels: Labels;
  /** Upper bounds, ascending; counts[i] holds observations ≤ bounds[i] and > bounds[i-1], counts[bounds.length] the rest. */
  readonly bounds: readonly number[];
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

export function observe(s: HistogramSeries, v: number): void {
  const b = s.bounds;
  let i = 0;
  while (i < b.length && v > b[i]!) i++;
  s.counts[i]!++;
  s.sum += v;
  s.count++;
}

interface Value {
  labels: Labels;
  value: number;
  metricName: string;
}

/** What a registry asks a metric for: its name, help, type and values (as prom-client's own answer). */
export class PlainHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly bounds: readonly number[];
  private readonly all: HistogramSeries[] = [];

  constructor(registry: Registry, name: string, help: string, bounds: readonly number[]) {
    this.name = name;
    this.help = help;
    this.bounds = bounds;
    // The registry reads a metric through get() alone (duck-typed).
    registry.registerMetric(this as unknown as Metric);
  }

  /** A new series with these labels, kept until the family is dropped. */
  series(labels: Labels): HistogramSeries {
    const s = {
      labels,
      bounds: this.bounds,
      counts: new Float64Array(this.bounds.length + 1),
      sum: 0,
      count: 0,
    };
    this.all.push(s);
    return s;
  }

  get() {
    const values: Value[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.all) {
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += s.counts[i]!;
        values.push({
          labels: { le: String(this.bounds[i]), ...s.labels },
          value: acc,
          metricName: bucket,
        });
      }
      values.push({ labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: bucket });
      values.push({ labels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: s.labels, value: s.count, metricName: `${this.name}_count` });
    }
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      values,
      aggregator: this.aggregator,
    };
  }

  reset(): void {
    for (const s of this.all) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}
