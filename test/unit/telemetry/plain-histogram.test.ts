// The plain-number histogram reads, when scraped, exactly as prom-client's own
// Histogram with the same observations: buckets cumulative, +Inf, sum, count.
import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { observe, PlainHistogram } from '../../../agent/src/telemetry/plain-histogram.ts';

describe('PlainHistogram', () => {
  it("renders as prom-client's Histogram does, and resets", async () => {
    const bounds = [0.5, 1, 5, 10, 25];
    const ours = new Registry();
    const theirs = new Registry();
    const h = new PlainHistogram(ours, 'x_ms', 'Durations.', bounds);
    const p = new Histogram({
      name: 'x_ms',
      help: 'Durations.',
      labelNames: ['a', 'b'],
      buckets: bounds,
      registers: [theirs],
    });
    const series = [
      { a: 'one', b: 'two' },
      { a: 'three', b: 'x"y' },
    ].map((l) => ({ l, s: h.series(l) }));
    const values = [0, 0.5, 0.7, 1, 4.9, 5, 10, 11, 25, 26, 1e6];
    for (const [i, v] of values.entries()) {
      const { l, s } = series[i % 2]!;
      observe(s, v);
      p.observe(l, v);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    h.reset();
    expect(await ours.metrics()).toContain('x_ms_count{a="one",b="two"} 0');
  });
});
