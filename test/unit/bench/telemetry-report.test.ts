// The telemetry cost section: each A/B's cost is the median of its rounds'
// pairs, judged by the added CPU per request against the proxies' own; the
// section replaces itself in the L7 page and survives that page's rewrite.
import { describe, expect, it } from 'vitest';
import {
  rowResults,
  telemetrySection,
  withTelemetrySection,
} from '../../../bench/telemetry-report.ts';

const round = (off: number, metrics: number, tracing: number, access: number) => ({
  off: { rps: off, cpuMsPer1k: 200 },
  metrics: { rps: metrics, cpuMsPer1k: 204 },
  tracing: { rps: tracing, cpuMsPer1k: 206 },
  access: { rps: access, cpuMsPer1k: 230 },
});

const figures = {
  machine: {
    cpu: 'CPU',
    cores: 2,
    kernel: '6.1',
    node: 'v24',
    date: '2026-12-07T00:00:00Z',
    loadStart: 5,
    loadEnd: 4,
  },
  seconds: 3,
  rounds: [round(1000, 980, 970, 900), round(2000, 1900, 1900, 1800), round(1000, 1000, 990, 950)],
  hookMicros: { metrics: 2, tracing: 8, access: 30 },
};

describe('telemetry bench report', () => {
  it('judges each A/B by its added CPU per request and shows the pairs of rounds', () => {
    const rows = rowResults(figures);
    expect(rows.map((r) => [r.share, r.met])).toEqual([
      [0.01, true],
      [0.04, false],
      [0.15, false],
    ]);
    // Metrics against off: pairs 2%, 5%, 0% → median 2%.
    expect(rows[0]!.cost).toBeCloseTo(0.02);
    expect(rows[0]!.cpuCost).toBeCloseTo(0.02);
    const md = telemetrySection(figures);
    expect(md).toContain('| metrics on (the default) against off | 2.0 | 1.0% | ≤ 5.0% | met |');
    expect(md).toContain('| tracing at 1% sampling | 8.0 | 4.0% | ≤ 3.0% | missed |');
  });

  it('replaces its section in the page, and a rewritten page keeps it', () => {
    const md = telemetrySection(figures);
    const page = '# Benchmarks: the L7 engine\n\n| path |\n';
    const once = withTelemetrySection(page, md);
    expect(once.startsWith(page.trimEnd())).toBe(true);
    expect(once).toContain('## What telemetry costs');
    const again = withTelemetrySection(once, md.replace('2.0 | 1.0%', '3.0 | 1.5%'));
    expect(again).toContain('| 3.0 | 1.5% |');
    expect(again.match(/What telemetry costs/g)).toHaveLength(1);
    // bench/l7.ts writes a new page and carries the section over from the old one.
    expect(withTelemetrySection('# new page\n', again)).toContain('| 3.0 | 1.5% |');
  });
});
