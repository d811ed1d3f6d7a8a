// Rows of a made-up run, for the report and chart tests.
import type { Machine } from '../../../bench/machine.ts';
import type { RowResult } from '../../../bench/results.ts';

const both = { tcp: true, http: true };

export function sampleRows(): RowResult[] {
  return [
    {
      id: 'direct',
      baseline: null,
      label: 'direct',
      proxy: 'none',
      measures: both,
      tcp: { mbps: 1000, p50: 100, p90: 140, p99: 200, cps: 5000, cpuMsPer1k: 40 },
      http: { rps: 40000, p50: 150, p90: 300, p99: 900, cpuMsPer1k: 20 },
      rssMiB: Number.NaN,
      rounds: 3,
      errors: [],
      notes: [],
    },
    {
      id: 'mtls',
      baseline: 'direct',
      label: 'weft mTLS L4 (HBONE)',
      proxy: 'agents',
      measures: both,
      tcp: { mbps: 250, p50: 220, p90: 300, p99: 650, cps: 800, cpuMsPer1k: 100 },
      http: { rps: 20000, p50: 380, p90: 900, p99: 3500, cpuMsPer1k: 70 },
      rssMiB: 180,
      rounds: 3,
      errors: [],
      notes: [],
    },
    {
      id: 'nginx',
      baseline: 'direct',
      label: 'nginx mTLS <pair> & co',
      proxy: 'nginx',
      measures: { tcp: false, http: true },
      http: { rps: 10000, p50: 90, p90: 200, p99: 700, cpuMsPer1k: 90 },
      rssMiB: 30,
      rounds: 3,
      errors: [],
      notes: [],
    },
    {
      id: 'splice',
      baseline: 'direct',
      label: 'weft L4 plaintext + splice',
      proxy: 'agents',
      measures: { tcp: true, http: false },
      tcp: { mbps: Number.NaN, p50: 95, p90: 120, p99: 300, cps: 700, cpuMsPer1k: 90 },
      rssMiB: 150,
      rounds: 3,
      errors: ['TCP throughput: ENOMEM'],
      notes: [],
    },
  ];
}

export const machine: Machine = {
  cpu: 'AMD EPYC 7B13',
  cores: 2,
  kernel: '6.1.0-test',
  node: 'v24.0.0',
  date: '2026-12-01T10:00:00.000Z',
  loadStart: 0.5,
  loadEnd: 1.25,
};
