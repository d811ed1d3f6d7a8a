// docs/benchmarks.svg: one line per path, one column per figure, a bar in
// each cell scaled to that column's largest value. Hand-written SVG. Pure.
import type { HttpFigures, RowResult, TcpFigures } from './results.ts';

export function escapeXml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

const COLOR: Record<RowResult['proxy'], string> = {
  none: '#7a7a7a',
  agents: '#2b6cb0',
  nginx: '#c05621',
};

/** A bar: its value, and the text beside it. */
interface Bar {
  value: number;
  text: string;
  light?: boolean;
}

interface Column {
  title: string;
  bars: (r: RowResult) => Bar[];
}

const LABEL_W = 200;
/** Figures per section. */
const COLUMNS = 3;
const COL_W = 250;
const BAR_MAX = 150;
const BAR_H = 11;
const PAD = 14;

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

function pct(x: number, base: number | undefined): string {
  if (base === undefined || Number.isNaN(base) || base === 0) return '';
  return ` (${Math.round((x / base) * 100)}%)`;
}

function tcpColumns(direct: TcpFigures | undefined): Column[] {
  return [
    {
      title: 'throughput, MB/s',
      bars: (r) => [
        {
          value: r.tcp?.mbps ?? Number.NaN,
          text: `${fmt(r.tcp?.mbps ?? 0)}${pct(r.tcp?.mbps ?? 0, direct?.mbps)}`,
        },
      ],
    },
    {
      title: 'round trip p50 / p99, µs',
      bars: (r) => [
        { value: r.tcp?.p50 ?? Number.NaN, text: fmt(r.tcp?.p50 ?? 0) },
        { value: r.tcp?.p99 ?? Number.NaN, text: fmt(r.tcp?.p99 ?? 0), light: true },
      ],
    },
    {
      title: 'CPU ms per 1,000 round trips',
      bars: (r) => [
        { value: r.tcp?.cpuMsPer1k ?? Number.NaN, text: fmt(r.tcp?.cpuMsPer1k ?? 0, 1) },
      ],
    },
  ];
}

function httpColumns(direct: HttpFigures | undefined): Column[] {
  return [
    {
      title: 'requests/s',
      bars: (r) => [
        {
          value: r.http?.rps ?? Number.NaN,
          text: `${fmt(r.http?.rps ?? 0)}${pct(r.http?.rps ?? 0, direct?.rps)}`,
        },
      ],
    },
    {
      title: 'latency p50 / p99 under load, µs',
      bars: (r) => [
        { value: r.http?.p50 ?? Number.NaN, text: fmt(r.http?.p50 ?? 0) },
        { value: r.http?.p99 ?? Number.NaN, text: fmt(r.http?.p99 ?? 0), light: true },
      ],
    },
    {
      title: 'CPU ms per 1,000 requests',
      bars: (r) => [
        { value: r.http?.cpuMsPer1k ?? Number.NaN, text: fmt(r.http?.cpuMsPer1k ?? 0, 1) },
      ],
    },
  ];
}

/** One section (TCP or HTTP): its title, column titles and a line per row; returns SVG and height. */
function section(title: string, rows: RowResult[], cols: Column[], y0: number): [string[], number] {
  const out: string[] = [];
  let y = y0;
  out.push(`<text x="${PAD}" y="${y}" class="h">${escapeXml(title)}</text>`);
  y += 20;
  cols.forEach((c, i) => {
    out.push(`<text x="${LABEL_W + i * COL_W}" y="${y}" class="c">${escapeXml(c.title)}</text>`);
  });
  y += 8;
  const bars = rows.map((r) => cols.map((c) => c.bars(r)));
  const max = cols.map((_, i) =>
    Math.max(
      0,
      ...bars.flatMap((b) => b[i]!.map((x) => x.value)).filter((v) => Number.isFinite(v)),
    ),
  );
  rows.forEach((r, ri) => {
    const lineH = Math.max(...bars[ri]!.map((b) => b.length)) * (BAR_H + 3) + 8;
    out.push(`<text x="${PAD}" y="${y + lineH / 2 + 4}" class="l">${escapeXml(r.label)}</text>`);
    bars[ri]!.forEach((cell, ci) => {
      cell.forEach((b, bi) => {
        const x = LABEL_W + ci * COL_W;
        const by = y + 4 + bi * (BAR_H + 3);
        if (!Number.isFinite(b.value)) {
          out.push(`<text x="${x}" y="${by + BAR_H - 1}" class="f">failed</text>`);
          return;
        }
        const w = max[ci]! > 0 ? Math.max(1, (b.value / max[ci]!) * BAR_MAX) : 1;
        out.push(
          `<rect x="${x}" y="${by}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${COLOR[r.proxy]}"${b.light ? ' fill-opacity="0.45"' : ''}/>`,
          `<text x="${(x + w + 4).toFixed(1)}" y="${by + BAR_H - 1}" class="v">${escapeXml(b.text)}</text>`,
        );
      });
    });
    y += lineH;
  });
  return [out, y + 18];
}

/** The whole chart for a run's rows; `caption` names the machine and date. */
export function renderChart(all: readonly RowResult[], caption: string): string {
  // Across nodes only: the same-node rows have a baseline of their own (the tables show them).
  const rows = all.filter((r) =>
    r.baseline === null ? r.id === 'direct' : r.baseline === 'direct',
  );
  const tcpRows = rows.filter((r) => r.measures.tcp);
  const httpRows = rows.filter((r) => r.measures.http);
  const direct = rows.find((r) => r.id === 'direct');
  const parts: string[] = [];
  let y = 24;
  parts.push(`<text x="${PAD}" y="${y}" class="t">weft benchmarks, across nodes</text>`);
  y += 18;
  parts.push(`<text x="${PAD}" y="${y}" class="c">${escapeXml(caption)}</text>`);
  y += 30;
  if (tcpRows.length) {
    const [s, ny] = section('TCP, one connection', tcpRows, tcpColumns(direct?.tcp), y);
    parts.push(...s);
    y = ny;
  }
  if (httpRows.length) {
    const [s, ny] = section('HTTP (wrk, keep-alive)', httpRows, httpColumns(direct?.http), y);
    parts.push(...s);
    y = ny;
  }
  const legend = [
    ['direct', COLOR.none],
    ['weft', COLOR.agents],
    ['nginx', COLOR.nginx],
  ];
  legend.forEach(([name, color], i) => {
    const x = PAD + i * 90;
    parts.push(
      `<rect x="${x}" y="${y - 9}" width="10" height="10" fill="${color}"/>`,
      `<text x="${x + 14}" y="${y}" class="c">${name}</text>`,
    );
  });
  parts.push(
    `<text x="${PAD + 270}" y="${y}" class="c">lighter bar: p99 · throughput: more is better; latency and CPU: less is better</text>`,
  );
  const width = LABEL_W + COLUMNS * COL_W;
  const height = y + 16;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">
<style>.t{font-size:16px;font-weight:bold}.h{font-size:14px;font-weight:bold}.c{font-size:11px;fill:#444}.l{font-size:12px}.v{font-size:11px}.f{font-size:11px;fill:#c53030}</style>
<rect width="100%" height="100%" fill="#fff"/>
${parts.join('\n')}
</svg>
`;
}
