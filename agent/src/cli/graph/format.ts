// The service graph as text: a table for the terminal, Graphviz dot, Mermaid.
// Each edge says what it carried: with rates, requests/s, error ratio and p99
// (HTTP) and bytes/s and connections/s (TCP); with totals only, the counts. Pure.
import type { GraphEdge } from './edges.ts';

const num = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const percent = (x: number) => `${(x * 100).toFixed(x && x < 0.1 ? 1 : 0)}%`;

export function bytes(x: number): string {
  if (x >= 1e9) return `${num(x / 1e9)} GB`;
  if (x >= 1e6) return `${num(x / 1e6)} MB`;
  if (x >= 1e3) return `${num(x / 1e3)} kB`;
  return `${Math.round(x)} B`;
}

/** Whether the edges carry rates (two scrapes, or Prometheus). */
const rated = (edges: readonly GraphEdge[]) => edges.some((e) => e.requestsPerS !== null);

/** What one edge carried, as short lines (a label). */
export function edgeLines(e: GraphEdge): string[] {
  const out: string[] = [];
  if (e.requestsPerS !== null) {
    if (e.requestsPerS) {
      const p99 = e.p99Ms === null ? '' : `, p99 ${num(e.p99Ms)} ms`;
      out.push(`${num(e.requestsPerS)} req/s, ${percent(e.errorRatio ?? 0)} err${p99}`);
    } else if (e.requests) out.push(`idle (${Math.round(e.requests)} req before)`);
    if (e.connectionsPerS || e.bytesPerS)
      out.push(`${bytes(e.bytesPerS ?? 0)}/s, ${num(e.connectionsPerS ?? 0)} conn/s`);
    else if (e.connections) out.push(`idle (${Math.round(e.connections)} conn before)`);
  } else {
    if (e.requests) out.push(`${e.requests} req, ${e.errors} err`);
    if (e.connections) out.push(`${e.connections} conn`);
  }
  return out;
}

export function formatTable(edges: readonly GraphEdge[]): string {
  const withRates = rated(edges);
  const head = ['SOURCE', 'DESTINATION', 'SERVICE', 'REQUESTS', 'ERRORS', 'CONNECTIONS'];
  if (withRates) head.push('REQ/S', 'ERR%', 'P99(MS)', 'BYTES/S', 'CONN/S');
  head.push('MTLS');
  const dash = (x: number | null, f: (n: number) => string) => (x === null ? '-' : f(x));
  const rows = [
    head,
    ...edges.map((e) => [
      e.source,
      e.destination,
      e.service ?? '-',
      String(Math.round(e.requests)),
      String(Math.round(e.errors)),
      String(Math.round(e.connections)),
      ...(withRates
        ? [
            dash(e.requestsPerS, num),
            dash(e.errorRatio, percent),
            dash(e.p99Ms, num),
            dash(e.bytesPerS, bytes),
            dash(e.connectionsPerS, num),
          ]
        : []),
      e.mtls ? 'yes' : 'no',
    ]),
  ];
  const widths = head.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map(
      (r) =>
        `${r
          .map((c, i) => c.padEnd(widths[i]!))
          .join('  ')
          .trimEnd()}\n`,
    )
    .join('');
}

export function formatDot(edges: readonly GraphEdge[]): string {
  const q = (s: string) => JSON.stringify(s);
  let s = 'digraph weft {\n  rankdir=LR;\n  node [shape=box];\n';
  for (const e of edges) {
    const what = [e.service ? `via ${e.service}` : '', ...edgeLines(e)].filter(Boolean);
    s += `  ${q(e.source)} -> ${q(e.destination)} [label=${q(what.join('\n'))}${e.mtls ? '' : ', style=dashed'}];\n`;
  }
  return `${s}}\n`;
}

/** Mermaid's flowchart: nodes by an id of their own (names hold '/'), a dotted arrow without mTLS. */
export function formatMermaid(edges: readonly GraphEdge[]): string {
  const ids = new Map<string, string>();
  const id = (name: string) => {
    let x = ids.get(name);
    if (!x) {
      x = `w${ids.size}`;
      ids.set(name, x);
    }
    return x;
  };
  // Mermaid's labels are quoted strings: a quote becomes #quot; as its docs say.
  const text = (s: string) => s.replace(/"/g, '#quot;');
  const lines: string[] = [];
  for (const e of edges) {
    const label = [e.service ? `via ${e.service}` : '', ...edgeLines(e)]
      .filter(Boolean)
      .join('<br/>');
    const arrow = e.mtls ? '-->' : '-.->';
    lines.push(`  ${id(e.source)} ${arrow}|"${text(label || ' ')}"| ${id(e.destination)}`);
  }
  const nodes = [...ids].map(([name, x]) => `  ${x}["${text(name)}"]`);
  return `flowchart LR\n${[...nodes, ...lines].join('\n')}\n`;
}
