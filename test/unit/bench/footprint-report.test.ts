// The footprint benchmark's page: medians with their range, the targets judged from the
// first variant, and the section docs/benchmarks.md carries between its markers.
import { describe, expect, it } from 'vitest';
import type { FootprintRound } from '../../../bench/footprint-report.ts';
import { renderFootprint, spread, targetsSection } from '../../../bench/footprint-report.ts';
import { withSection } from '../../../bench/sections.ts';

const round = (variant: string, k: number): FootprintRound => ({
  variant,
  loadPeakMiB: 150 + k,
  direct: { cps: 1000, agentUsPerConn: 0 },
  hbone: { cps: 500, agentUsPerConn: 300 },
  node: { cps: 300, agentUsPerConn: 200 },
  idleOpen: 1000,
  rssBeforeIdle: [60, 60],
  rssHoldingIdle: [70, 70],
  rssHoldingIdleFirst: [75, 72],
  stalledOpen: 10,
  stalledBytes: 10 * 1048576,
  rssBeforeStalled: [60, 60],
  rssStalled: [65, 65],
  rssAfter: [66, 66],
  errors: [],
});

const report = {
  machine: {
    cpu: 'CPU',
    cores: 2,
    kernel: '6',
    node: 'v24',
    date: '2026-12-07T00:00:00Z',
    loadStart: 1,
    loadEnd: 1,
  },
  cfg: { rounds: 2, connectMs: 2000, idle: 1000, stalled: 10, pods: 200 },
  variants: [{ id: 'now', what: "the agent's settings", env: {} }],
  idleFresh: new Map([['now', [70, 72]]]),
  idleAnon: new Map([['now', [40, 41]]]),
  idleNote: '',
  rounds: [round('now', 0), round('now', 20)],
  scales: [
    {
      variant: 'now',
      pods: 200,
      enrolled: 200,
      seconds: 4,
      sandboxSeconds: 3,
      rssMiB: [150, 100],
      reconcileMs: [30, 40, 60],
    },
  ],
  peers: [],
  seconds: 60,
};

describe('footprint report', () => {
  it('gives the median and the range over rounds', () => {
    expect(spread([3, 1, 2])).toBe('2 (1–3)');
    expect(spread([5])).toBe('5');
    expect(spread([])).toBe('—');
  });

  it('judges the targets from the first variant', () => {
    const s = targetsSection(report);
    expect(s).toContain('| agent RSS idle ≤ 80 MiB | 72 MiB, of which 41 MiB anonymous');
    expect(s).toMatch(/agent RSS under load ≤ 200 MiB[^|]*\| 160 MiB \| met/);
    // (140 - 120) MiB over 1,000 connections.
    expect(s).toContain('| memory per open idle connection (both agents), stated | 20.5 KiB |');
    expect(s).toMatch(/all enrolled within 5 s[^|]*\| 200 in 4.0 s, the agent's part 1.0 s \| met/);
    expect(s).toMatch(/reconcile of one pod change ≤ 50 ms \| 40 ms \| met/);
    expect(s).toMatch(/over HBONE ≥ 40% of direct \| 50% \| met/);
    expect(s).toMatch(/same node[^|]*≥ 40% of direct \| 30% \| \*\*not met\*\*/);
  });

  it('is kept in docs/benchmarks.md between its markers', () => {
    const doc = renderFootprint(report);
    const page = '# Benchmarks\n\nmatrix\n';
    const once = withSection(page, doc, 'footprint');
    expect(once).toContain('<!-- footprint bench: begin -->');
    const again = withSection(once, doc.replace('72 MiB', '73 MiB'), 'footprint');
    expect(again.match(/footprint bench: begin/g)).toHaveLength(1);
    expect(again).toContain('73 MiB, of which');
  });
});
