// weft graph: the service graph, who talks to whom, read from the Istio
// metrics every node's agent keeps (its admin API's /metrics): one edge per
// source workload and destination workload, with the Service it was sent to,
// requests, errors, TCP connections and whether it was mutual TLS.

import { adminText } from '../../admin/index.ts';
import { ADMIN_SOCKET } from '../../config/index.ts';
import { loadSandboxState } from '../../sandbox/layout/index.ts';
import { parse, UsageError } from '../args.ts';

export const help = `Usage: weft graph [--sandbox NAME | --admin-socket PATH...] [-o table|json|dot]

Shows who talks to whom across the nodes, from each agent's Istio metrics
(istio_requests_total, istio_tcp_connections_opened_total): one edge per source
and destination workload, with the Service it was sent to, the requests and
how many failed (5xx, or refused by weft), the TCP connections, and whether
the traffic was mutual TLS. Each side of a connection is counted by both
nodes' proxies (reporter source and destination); an edge shows the larger.

Options:
  --sandbox NAME          ask every node of a running sandbox
  --admin-socket PATH     ask this agent (repeatable; default ${ADMIN_SOCKET})
  -o, --output FORMAT     table (default), json, or dot (Graphviz)
`;

export interface GraphEdge {
  /** namespace/name of the source and destination workloads ('unknown' outside the mesh). */
  source: string;
  destination: string;
  /** namespace/name of the Service the traffic was sent to, when it went to one. */
  service: string | null;
  requests: number;
  errors: number;
  connections: number;
  mtls: boolean;
}

/** Series read per scrape at most: a bound on what one agent's answer costs the CLI. */
export const MAX_SERIES = 100_000;

const LINE = /^(istio_requests_total|istio_tcp_connections_opened_total)\{(.*)\} (\S+)/;
const LABEL = /(\w+)="((?:[^"\\]|\\.)*)"/g;

interface Counts {
  requests: number;
  errors: number;
  connections: number;
}

/** Merges the metrics texts of several agents into edges, sorted by source then destination. */
export function graphOf(texts: readonly string[]): GraphEdge[] {
  const edges = new Map<string, GraphEdge & { by: Record<string, Counts> }>();
  for (const text of texts) {
    let n = 0;
    for (const line of text.split('\n')) {
      const m = LINE.exec(line);
      if (!m) continue;
      if (++n > MAX_SERIES) break;
      const l: Record<string, string> = {};
      for (const x of m[2]!.matchAll(LABEL)) l[x[1]!] = x[2]!;
      const value = Number(m[3]);
      if (!(value > 0) || l.reporter === 'overflow') continue;
      const who = (ns: string | undefined, name: string | undefined) =>
        !name || name === 'unknown' ? 'unknown' : `${ns}/${name}`;
      const source = who(l.source_workload_namespace, l.source_workload);
      const destination = who(l.destination_workload_namespace, l.destination_workload);
      const key = `${source}\0${destination}`;
      let e = edges.get(key);
      if (!e) {
        e = {
          source,
          destination,
          service: null,
          requests: 0,
          errors: 0,
          connections: 0,
          mtls: false,
          by: {},
        };
        edges.set(key, e);
      }
      const svc = l.destination_service_name;
      if (svc && svc !== 'unknown') e.service = `${l.destination_service_namespace}/${svc}`;
      if (l.connection_security_policy === 'mutual_tls') e.mtls = true;
      const reporter = l.reporter ?? '';
      let c = e.by[reporter];
      if (!c) {
        c = { requests: 0, errors: 0, connections: 0 };
        e.by[reporter] = c;
      }
      if (m[1] === 'istio_tcp_connections_opened_total') c.connections += value;
      else {
        c.requests += value;
        const code = Number(l.response_code);
        if (code >= 500 || (l.response_flags && l.response_flags !== '-')) c.errors += value;
      }
    }
  }
  const out: GraphEdge[] = [];
  for (const { by, ...e } of edges.values()) {
    // Both proxies count the same traffic: the larger view, never their sum.
    for (const c of Object.values(by)) {
      e.requests = Math.max(e.requests, c.requests);
      e.errors = Math.max(e.errors, c.errors);
      e.connections = Math.max(e.connections, c.connections);
    }
    out.push(e);
  }
  return out.sort((a, b) =>
    a.source === b.source ? (a.destination < b.destination ? -1 : 1) : a.source < b.source ? -1 : 1,
  );
}

export function formatTable(edges: readonly GraphEdge[]): string {
  const rows = [
    ['SOURCE', 'DESTINATION', 'SERVICE', 'REQUESTS', 'ERRORS', 'CONNECTIONS', 'MTLS'],
    ...edges.map((e) => [
      e.source,
      e.destination,
      e.service ?? '-',
      String(e.requests),
      String(e.errors),
      String(e.connections),
      e.mtls ? 'yes' : 'no',
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
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
    const what = [
      e.service ? `via ${e.service}` : '',
      e.requests ? `${e.requests} req, ${e.errors} err` : '',
      e.connections ? `${e.connections} conn` : '',
    ].filter(Boolean);
    s += `  ${q(e.source)} -> ${q(e.destination)} [label=${q(what.join('\n'))}${e.mtls ? '' : ', style=dashed'}];\n`;
  }
  return `${s}}\n`;
}

export async function run(args: string[]): Promise<number> {
  const { values } = parse('graph', args, {
    sandbox: { type: 'string' },
    'admin-socket': { type: 'string', multiple: true },
    output: { type: 'string', short: 'o', default: 'table' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const format = values.output;
  if (format !== 'table' && format !== 'json' && format !== 'dot')
    throw new UsageError('graph: -o takes table, json or dot');
  const sockets = values.sandbox
    ? loadSandboxState(values.sandbox).nodes.map((n) => n.adminSocket)
    : (values['admin-socket'] ?? [ADMIN_SOCKET]);
  const texts = await Promise.all(sockets.map((s) => adminText(s, '/metrics')));
  const edges = graphOf(texts);
  process.stdout.write(
    format === 'json'
      ? `${JSON.stringify(edges)}\n`
      : format === 'dot'
        ? formatDot(edges)
        : formatTable(edges),
  );
  return 0;
}
