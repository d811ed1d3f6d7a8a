// The service graph's edges from the agents' Istio metrics (the text of their
// /metrics): one edge per source and destination workload. Totals come from one
// scrape; rates (requests/s, error ratio, p99, bytes/s, connections/s) from two
// scrapes of the same agents some seconds apart: the difference of each counter
// and each duration bucket over the seconds between them. Both proxies of a
// request count it (reporter source and destination): an edge shows the larger
// view, never the sum. Pure.

export interface GraphEdge {
  /** namespace/name of the source and destination workloads ('unknown' outside the mesh). */
  source: string;
  destination: string;
  /** namespace/name of the Service the traffic was sent to, when it went to one. */
  service: string | null;
  /** Totals: since the agents started (or over the window, from Prometheus). */
  requests: number;
  errors: number;
  connections: number;
  mtls: boolean;
  /** Rates over the window; null when there was only one scrape. */
  requestsPerS: number | null;
  /** Errors (5xx, a gRPC status other than OK, or anything weft refused or failed) over requests in the window. */
  errorRatio: number | null;
  /** The 99th percentile of request duration in the window (ms), as Prometheus's histogram_quantile estimates it. */
  p99Ms: number | null;
  /** TCP bytes both ways, and connections opened, per second. */
  bytesPerS: number | null;
  connectionsPerS: number | null;
}

/** Series read per scrape at most: a bound on what one agent's answer costs the CLI. */
export const MAX_SERIES = 100_000;

const FAMILIES = new Set([
  'istio_requests_total',
  'istio_request_duration_milliseconds_bucket',
  'istio_tcp_connections_opened_total',
  'istio_tcp_sent_bytes_total',
  'istio_tcp_received_bytes_total',
]);
const LINE = /^(istio_[a-z_]+)\{(.*)\} (\S+)/;
const LABEL = /(\w+)="((?:[^"\\]|\\.)*)"/g;

export interface Series {
  family: string;
  labels: Record<string, string>;
  value: number;
}

/** One agent's Istio series, keyed by family and labels (so two scrapes can be subtracted). */
export type Scrape = Map<string, Series>;

export function parseScrape(text: string): Scrape {
  const out: Scrape = new Map();
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (!m || !FAMILIES.has(m[1]!)) continue;
    if (out.size >= MAX_SERIES) break;
    const labels: Record<string, string> = {};
    for (const x of m[2]!.matchAll(LABEL)) labels[x[1]!] = x[2]!;
    out.set(`${m[1]}{${m[2]}}`, { family: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** What grew from `before` to `after` (a counter that went down restarted: all of it is new). */
export function delta(before: Scrape, after: Scrape): Series[] {
  const out: Series[] = [];
  for (const [k, s] of after) {
    const b = before.get(k)?.value ?? 0;
    out.push({ ...s, value: s.value >= b ? s.value - b : s.value });
  }
  return out;
}

interface Counts {
  requests: number;
  errors: number;
  connections: number;
  bytes: number;
  /** Duration buckets: upper bound → cumulative count. */
  buckets: Map<number, number>;
}

interface Edge {
  source: string;
  destination: string;
  service: string | null;
  mtls: boolean;
  by: Map<string, Counts>;
}

const who = (ns: string | undefined, name: string | undefined) =>
  !name || name === 'unknown' ? 'unknown' : `${ns}/${name}`;

function aggregate(series: Iterable<Series>): Map<string, Edge> {
  const edges = new Map<string, Edge>();
  for (const { family, labels: l, value } of series) {
    // A series at 0 still names its edge, Service and mTLS (Prometheus's increase() of a
    // series that has not moved in the window is 0); it adds nothing.
    if (!(value >= 0) || l.reporter === 'overflow') continue;
    const source = who(l.source_workload_namespace, l.source_workload);
    const destination = who(l.destination_workload_namespace, l.destination_workload);
    const key = `${source}\0${destination}`;
    let e = edges.get(key);
    if (!e) {
      e = { source, destination, service: null, mtls: false, by: new Map() };
      edges.set(key, e);
    }
    const svc = l.destination_service_name;
    if (svc && svc !== 'unknown') e.service = `${l.destination_service_namespace}/${svc}`;
    if (l.connection_security_policy === 'mutual_tls') e.mtls = true;
    const reporter = l.reporter ?? '';
    let c = e.by.get(reporter);
    if (!c) {
      c = { requests: 0, errors: 0, connections: 0, bytes: 0, buckets: new Map() };
      e.by.set(reporter, c);
    }
    if (family === 'istio_tcp_connections_opened_total') c.connections += value;
    else if (family === 'istio_tcp_sent_bytes_total' || family === 'istio_tcp_received_bytes_total')
      c.bytes += value;
    else if (family === 'istio_request_duration_milliseconds_bucket') {
      const le = l.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(l.le);
      c.buckets.set(le, (c.buckets.get(le) ?? 0) + value);
    } else {
      c.requests += value;
      const code = Number(l.response_code);
      const grpc = l.grpc_response_status;
      if (code >= 500 || (l.response_flags && l.response_flags !== '-') || (grpc && grpc !== '0'))
        c.errors += value;
    }
  }
  return edges;
}

/**
 * The q-quantile of cumulative buckets (upper bound → count), as Prometheus's
 * histogram_quantile: linear within the bucket holding the rank; in the +Inf
 * bucket, the largest finite bound. Null without observations.
 */
export function quantile(q: number, buckets: ReadonlyMap<number, number>): number | null {
  const bs = [...buckets].sort((a, b) => a[0] - b[0]);
  const total = bs.at(-1)?.[1] ?? 0;
  if (!(total > 0)) return null;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const [upper, count] of bs) {
    if (count >= rank) {
      if (upper === Number.POSITIVE_INFINITY) return lower;
      return lower + (upper - lower) * ((rank - below) / (count - below || 1));
    }
    lower = upper;
    below = count;
  }
  return lower;
}

const byName = (a: GraphEdge, b: GraphEdge) =>
  a.source === b.source ? (a.destination < b.destination ? -1 : 1) : a.source < b.source ? -1 : 1;

/** The larger of both reporters' views of each count. */
function largest(e: Edge) {
  const m = {
    requests: 0,
    errors: 0,
    connections: 0,
    bytes: 0,
    buckets: new Map<number, number>(),
  };
  let most = -1;
  for (const c of e.by.values()) {
    m.requests = Math.max(m.requests, c.requests);
    m.errors = Math.max(m.errors, c.errors);
    m.connections = Math.max(m.connections, c.connections);
    m.bytes = Math.max(m.bytes, c.bytes);
    // The duration of the reporter that saw the most requests.
    if (c.requests > most && c.buckets.size) {
      most = c.requests;
      m.buckets = c.buckets;
    }
  }
  return m;
}

/** Edges from one scrape of each agent: totals, no rates. */
export function graphOf(texts: readonly string[]): GraphEdge[] {
  return edgesOf(
    texts.flatMap((t) => [...parseScrape(t).values()]),
    null,
    0,
  );
}

/** Edges from two scrapes of the same agents, `seconds` apart: totals from the later, rates between them. */
export function graphBetween(
  before: readonly Scrape[],
  after: readonly Scrape[],
  seconds: number,
): GraphEdge[] {
  return edgesOf(
    after.flatMap((s) => [...s.values()]),
    after.flatMap((s, i) => delta(before[i] ?? new Map(), s)),
    seconds,
  );
}

/** Edges with totals from `totals` and, when `window` is given, rates over its `seconds`. */
export function edgesOf(
  totals: Iterable<Series>,
  window: Iterable<Series> | null,
  seconds: number,
): GraphEdge[] {
  const all = aggregate(totals);
  const win = window && seconds > 0 ? aggregate(window) : null;
  const out: GraphEdge[] = [];
  for (const [key, e] of all) {
    const t = largest(e);
    const w = win?.get(key);
    const r = w ? largest(w) : null;
    out.push({
      source: e.source,
      destination: e.destination,
      service: e.service,
      requests: t.requests,
      errors: t.errors,
      connections: t.connections,
      mtls: e.mtls,
      requestsPerS: win ? (r?.requests ?? 0) / seconds : null,
      errorRatio: win ? (r?.requests ? r.errors / r.requests : 0) : null,
      p99Ms: r ? quantile(0.99, r.buckets) : null,
      bytesPerS: win ? (r?.bytes ?? 0) / seconds : null,
      connectionsPerS: win ? (r?.connections ?? 0) / seconds : null,
    });
  }
  return out.sort(byName);
}
