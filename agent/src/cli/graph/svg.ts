// The service graph as a picture (SVG), laid out here rather than by Graphviz:
// `weft graph` runs on an operator's laptop or in a container without it, and a
// service graph is small and mostly layered (callers left of callees). Workloads
// sit in columns by the longest call chain that reaches them; within a column in
// the order of their callers; each edge a curve with its label, solid for
// mutual TLS, dashed without, red when it carried errors. Pure.
import type { GraphEdge } from './edges.ts';
import { edgeLines } from './format.ts';

const FONT = 12;
const CHAR = 7.2; // average width of a 12 px sans-serif character
const BOX_H = 34;
const ROW_GAP = 56;
const LABEL_CHAR = 6.6; // the same for the labels' 11 px
const MARGIN = 24;

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

interface Box {
  name: string;
  rank: number;
  x: number;
  y: number;
  w: number;
}

/** Columns by longest path from the workloads nobody calls; edges closing a cycle are left out of the ranking. */
function ranks(names: string[], edges: readonly GraphEdge[]): Map<string, number> {
  const out = new Map<string, string[]>();
  for (const e of edges) out.set(e.source, [...(out.get(e.source) ?? []), e.destination]);
  const back = new Set<string>();
  const state = new Map<string, 1 | 2>();
  const visit = (n: string) => {
    state.set(n, 1);
    for (const m of out.get(n) ?? []) {
      if (state.get(m) === 1) back.add(`${n}\0${m}`);
      else if (!state.has(m)) visit(m);
    }
    state.set(n, 2);
  };
  for (const n of names) if (!state.has(n)) visit(n);
  const rank = new Map(names.map((n) => [n, 0]));
  for (let i = 0; i < names.length; i++)
    for (const e of edges)
      if (!back.has(`${e.source}\0${e.destination}`) && e.source !== e.destination)
        rank.set(e.destination, Math.max(rank.get(e.destination)!, rank.get(e.source)! + 1));
  return rank;
}

const labelOf = (e: GraphEdge) =>
  [e.service ? `via ${e.service}` : '', ...edgeLines(e)].filter(Boolean);
const labelWidth = (lines: string[]) =>
  Math.max(0, ...lines.map((l) => l.length)) * LABEL_CHAR + 12;

function layout(edges: readonly GraphEdge[]): Box[] {
  // Columns far enough apart for the widest label between them.
  const gap = Math.max(160, ...edges.map((e) => labelWidth(labelOf(e)) + 70));
  const names = [...new Set(edges.flatMap((e) => [e.source, e.destination]))].sort();
  const rank = ranks(names, edges);
  const columns: string[][] = [];
  for (const n of names) {
    const r = rank.get(n)!;
    columns[r] = [...(columns[r] ?? []), n];
  }
  const boxes = new Map<string, Box>();
  let x = MARGIN;
  for (const [c, col] of columns.entries()) {
    if (!col) continue;
    // In the order of their callers' rows, so edges cross less.
    const row = (n: string) => {
      const ys = edges
        .filter((e) => e.destination === n && boxes.has(e.source))
        .map((e) => boxes.get(e.source)!.y);
      return ys.length ? ys.reduce((a, b) => a + b, 0) / ys.length : 0;
    };
    col.sort((a, b) => row(a) - row(b) || (a < b ? -1 : 1));
    const w = Math.max(...col.map((n) => n.length * CHAR + 24));
    for (const [i, n] of col.entries())
      boxes.set(n, { name: n, rank: c, x, y: MARGIN + 30 + i * (BOX_H + ROW_GAP), w });
    x += w + gap;
  }
  return [...boxes.values()];
}

export function formatSvg(edges: readonly GraphEdge[], title = 'weft graph'): string {
  const boxes = layout(edges);
  const at = new Map(boxes.map((b) => [b.name, b]));
  const width = Math.max(MARGIN * 2 + 400, ...boxes.map((b) => b.x + b.w + MARGIN));
  const height = Math.max(...boxes.map((b) => b.y + BOX_H), MARGIN + 30) + MARGIN + 70;
  const parts: string[] = [];
  for (const e of edges) {
    const a = at.get(e.source)!;
    const b = at.get(e.destination)!;
    const bad = e.errorRatio !== null ? e.errorRatio > 0 : e.errors > 0;
    const colour = bad ? '#c0392b' : '#2c6e49';
    let d: string;
    let lx: number;
    let ly: number;
    if (b.rank > a.rank) {
      // Forward: right side to left side.
      const x1 = a.x + a.w;
      const y1 = a.y + BOX_H / 2;
      const x2 = b.x;
      const y2 = b.y + BOX_H / 2;
      const dx = (x2 - x1) / 2;
      d = `M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}`;
      // The label two thirds of the way, where edges fanning out from one box have parted.
      const t = 0.68;
      const u = 1 - t;
      lx = u ** 3 * x1 + 3 * u * u * t * (x1 + dx) + 3 * u * t * t * (x2 - dx) + t ** 3 * x2;
      ly = u ** 3 * y1 + 3 * u * u * t * y1 + 3 * u * t * t * y2 + t ** 3 * y2;
    } else {
      // Back, to itself or within a column: a loop under the boxes.
      const x1 = a.x + a.w / 2;
      const x2 = b.x + b.w / 2 + (a === b ? 30 : 0);
      const y1 = a.y + BOX_H;
      const y2 = b.y + BOX_H;
      const drop = Math.max(y1, y2) + ROW_GAP * 0.8;
      d = `M${x1},${y1} C${x1},${drop} ${x2},${drop} ${x2},${y2}`;
      lx = (x1 + x2) / 2;
      ly = drop - 8;
    }
    parts.push(
      `<path d="${d}" fill="none" stroke="${colour}" stroke-width="1.6"${e.mtls ? '' : ' stroke-dasharray="6 4"'} marker-end="url(#arrow-${bad ? 'bad' : 'ok'})"/>`,
    );
    const lines = labelOf(e);
    const lw = labelWidth(lines);
    const lh = lines.length * (FONT + 2) + 4;
    parts.push(
      `<rect x="${(lx - lw / 2).toFixed(1)}" y="${(ly - lh / 2).toFixed(1)}" width="${lw.toFixed(1)}" height="${lh}" rx="3" fill="#ffffff" fill-opacity="0.9"/>`,
      ...lines.map(
        (l, i) =>
          `<text x="${lx.toFixed(1)}" y="${(ly - lh / 2 + 2 + (i + 1) * (FONT + 2) - 3).toFixed(1)}" font-size="${FONT - 1}" text-anchor="middle" fill="#333">${esc(l)}</text>`,
      ),
    );
  }
  for (const b of boxes)
    parts.push(
      `<rect x="${b.x}" y="${b.y}" width="${b.w.toFixed(1)}" height="${BOX_H}" rx="5" fill="#eef3f8" stroke="#44607a"/>`,
      `<text x="${(b.x + b.w / 2).toFixed(1)}" y="${b.y + BOX_H / 2 + 4}" font-size="${FONT}" text-anchor="middle" fill="#1d2b36">${esc(b.name)}</text>`,
    );
  const legendY = height - 30;
  const marker = (id: string, colour: string) =>
    `<marker id="arrow-${id}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${colour}"/></marker>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${Math.ceil(width)}" height="${Math.ceil(height)}" viewBox="0 0 ${Math.ceil(width)} ${Math.ceil(height)}" font-family="sans-serif">
<defs>${marker('ok', '#2c6e49')}${marker('bad', '#c0392b')}</defs>
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="${MARGIN}" y="${MARGIN + 6}" font-size="${FONT + 2}" font-weight="bold" fill="#1d2b36">${esc(title)}</text>
${parts.join('\n')}
<line x1="${MARGIN}" y1="${legendY}" x2="${MARGIN + 40}" y2="${legendY}" stroke="#2c6e49" stroke-width="1.6"/>
<text x="${MARGIN + 48}" y="${legendY + 4}" font-size="${FONT - 1}" fill="#333">mutual TLS</text>
<line x1="${MARGIN + 140}" y1="${legendY}" x2="${MARGIN + 180}" y2="${legendY}" stroke="#2c6e49" stroke-width="1.6" stroke-dasharray="6 4"/>
<text x="${MARGIN + 188}" y="${legendY + 4}" font-size="${FONT - 1}" fill="#333">plaintext</text>
<line x1="${MARGIN + 270}" y1="${legendY}" x2="${MARGIN + 310}" y2="${legendY}" stroke="#c0392b" stroke-width="1.6"/>
<text x="${MARGIN + 318}" y="${legendY + 4}" font-size="${FONT - 1}" fill="#333">with errors</text>
</svg>
`;
}
