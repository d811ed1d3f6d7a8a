import { describe, expect, it } from 'vitest';
import { ROWS } from '../../../bench/matrix.ts';
import { combine, FAILED_TCP, type RowSample } from '../../../bench/results.ts';

const mtls = ROWS.find((r) => r.id === 'mtls')!;
const direct = ROWS.find((r) => r.id === 'direct')!;
const tcp = (mbps: number) => ({ mbps, p50: mbps / 10, p90: 1, p99: 2, cps: 3, cpuMsPer1k: 4 });
const http = (rps: number) => ({ rps, p50: 1, p90: 2, p99: 3, cpuMsPer1k: 4 });

describe('a row over its rounds', () => {
  it('takes each figure as the median of its rounds', () => {
    const samples: RowSample[] = [
      { tcp: tcp(300), http: http(10), rssMiB: 100, errors: [], notes: [] },
      { tcp: tcp(100), http: http(30), rssMiB: 120, errors: [], notes: [] },
      { tcp: tcp(200), http: http(20), rssMiB: 110, errors: [], notes: [] },
    ];
    const r = combine(mtls, samples);
    expect(r.tcp).toEqual({ mbps: 200, p50: 20, p90: 1, p99: 2, cps: 3, cpuMsPer1k: 4 });
    expect(r.http?.rps).toBe(20);
    expect(r.rssMiB).toBe(110);
    expect(r.rounds).toBe(3);
    expect(r.measures).toEqual({ tcp: true, http: true });
  });

  it('reports a figure as failed when one round failed it, and lists each error once', () => {
    const samples: RowSample[] = [
      { tcp: tcp(300), http: http(10), rssMiB: 100, errors: [], notes: [] },
      {
        tcp: { ...tcp(100), mbps: Number.NaN },
        http: http(30),
        rssMiB: 120,
        errors: ['x'],
        notes: ['n1'],
      },
      { tcp: FAILED_TCP, http: http(20), rssMiB: 110, errors: ['x', 'y'], notes: ['n2'] },
    ];
    const r = combine(mtls, samples);
    expect(r.tcp?.mbps).toBeNaN();
    expect(r.tcp?.p50).toBeNaN();
    expect(r.http?.rps).toBe(20);
    expect(r.errors).toEqual(['x', 'y']);
    expect(r.notes).toEqual(['n1']);
  });

  it('has no proxy memory for the direct path', () => {
    const r = combine(direct, [
      { tcp: tcp(1), http: http(1), rssMiB: Number.NaN, errors: [], notes: [] },
    ]);
    expect(r.rssMiB).toBeNaN();
  });
});
