import { describe, expect, it } from 'vitest';
import { benchConfig } from '../../../bench/config.ts';
import {
  httpTable,
  markdownTable,
  num,
  plus,
  renderConsole,
  renderDoc,
  targetsTable,
  tcpTable,
  textTable,
} from '../../../bench/report.ts';
import { machine, sampleRows } from './fixtures.ts';

describe('bench tables', () => {
  it('compares every TCP path with direct from the same rows', () => {
    const t = tcpTable(sampleRows());
    expect(t.body.map((r) => r[0])).toEqual([
      'direct',
      'weft mTLS L4 (HBONE)',
      'weft L4 plaintext + splice',
    ]);
    const [, mbps, vs, p50, addedP50, p99, addedP99, cps, cpsVs, cpu, cpuVs, rss] = t.body[1]!;
    expect([mbps, vs, p50, addedP50, p99, addedP99]).toEqual([
      '250',
      '25%',
      '220',
      '+120',
      '650',
      '+450',
    ]);
    expect([cps, cpsVs, cpu, cpuVs, rss]).toEqual(['800', '16%', '100.0', '2.5×', '180']);
    // direct compares with nothing and has no proxy.
    expect(t.body[0]!.slice(2, 3)).toEqual(['']);
    expect(t.body[0]![11]).toBe('');
  });

  it('compares same-node paths with direct on one node, not across nodes', () => {
    const rows = sampleRows();
    const direct = rows[0]!;
    const t = tcpTable([
      ...rows,
      {
        ...direct,
        id: 'direct-node',
        label: 'direct, same node',
        tcp: { ...direct.tcp!, mbps: 4000, p50: 30 },
      },
      {
        ...rows[1]!,
        id: 'l4-node',
        baseline: 'direct-node',
        label: 'weft L4 plaintext, same node',
        tcp: { ...rows[1]!.tcp!, mbps: 2000, p50: 70 },
      },
    ]);
    const [, , vs, , added] = t.body.find((r) => r[0] === 'weft L4 plaintext, same node')!;
    expect([vs, added]).toEqual(['50%', '+40']);
    expect(t.body.find((r) => r[0] === 'direct, same node')![2]).toBe('');
  });

  it('shows a failed figure as failed, not as a number', () => {
    const splice = tcpTable(sampleRows()).body[2]!;
    expect(splice[1]).toBe('failed');
    expect(splice[2]).toBe('failed');
    expect(splice[3]).toBe('95');
  });

  it('puts only HTTP paths in the HTTP table, with latency that can be lower than direct', () => {
    const t = httpTable(sampleRows());
    expect(t.body.map((r) => r[0])).toEqual([
      'direct',
      'weft mTLS L4 (HBONE)',
      'nginx mTLS <pair> & co',
    ]);
    expect(t.body[2]!.slice(1, 5)).toEqual(['10,000', '25%', '90', '−60']);
  });

  it('renders Markdown and aligned text', () => {
    const t = {
      head: ['a', 'b'],
      align: ['l', 'r'] as ('l' | 'r')[],
      body: [
        ['x', '1'],
        ['yy', '22'],
      ],
    };
    expect(markdownTable(t)).toBe('| a | b |\n| --- | ---: |\n| x | 1 |\n| yy | 22 |');
    expect(textTable(t)).toBe('a    b\nx    1\nyy  22');
  });

  it('formats numbers and signed differences', () => {
    expect(num(12345.6)).toBe('12,346');
    expect(num(1.25, 1)).toBe('1.3');
    expect(num(Number.NaN)).toBe('failed');
    expect(plus(130, 100)).toBe('+30');
    expect(plus(Number.NaN, 100)).toBe('failed');
  });

  it('lists failures under the tables in the terminal', () => {
    expect(renderConsole(sampleRows())).toContain(
      'Failed measurements:\n- weft L4 plaintext + splice: TCP throughput: ENOMEM',
    );
  });

  it('says what the figures need said beside them, apart from failures', () => {
    const rows = sampleRows();
    rows[1]!.notes = ['HTTP: connections were closed and opened again'];
    const out = renderConsole(rows);
    expect(out).toContain(
      'Notes:\n- weft mTLS L4 (HBONE): HTTP: connections were closed and opened again',
    );
    expect(renderConsole(sampleRows())).not.toContain('Notes:');
  });

  it('checks the earlier targets against the run', () => {
    const t = targetsTable(sampleRows());
    expect(t).toContain('| mTLS: throughput ≥ 25% of direct | 25% | met |');
    expect(t).toContain('| mTLS: ≤ 150 µs added at p50 | +120 µs | met |');
    expect(t).toContain('| mTLS: ≤ 400 µs added at p99 | +450 µs | **not met** |');
    // No L4 plaintext row in this run: its targets are not claimed either way.
    expect(t).not.toContain('L4: throughput');
  });

  it('writes the machine, the settings and the chart into the document', () => {
    const doc = renderDoc({
      machine,
      cfg: benchConfig({ WEFT_BENCH_ROUNDS: '5' }),
      rows: sampleRows(),
      seconds: 301.4,
    });
    expect(doc).toContain('on 2026-12-01; the matrix took 301 s');
    expect(doc).toContain('2 × AMD EPYC 7B13, Linux 6.1.0-test, Node v24.0.0');
    expect(doc).toContain('0.50 at the start, 1.25 at the end');
    expect(doc).toContain('![Throughput, latency and CPU of each path](benchmarks.svg)');
    expect(doc).toContain('median of 5 rounds');
    expect(doc).toContain('| `WEFT_BENCH_ROUNDS` | rounds (each figure is the median) | 3 | 5 |');
    expect(doc).toContain('- weft L4 plaintext + splice: TCP throughput: ENOMEM');
    expect(doc).toContain(markdownTable(httpTable(sampleRows())));
  });
});
