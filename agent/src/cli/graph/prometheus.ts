// The service graph from a Prometheus server that scrapes the agents: the same
// Istio series, each family's increase over the window by PromQL (its HTTP API,
// /api/v1/query), merged into edges as the agents' own metrics are.
import { edgesOf, type GraphEdge, type Series } from './edges.ts';

const EDGE = [
  'reporter',
  'source_workload',
  'source_workload_namespace',
  'destination_workload',
  'destination_workload_namespace',
  'destination_service_name',
  'destination_service_namespace',
  'connection_security_policy',
].join(', ');

/** The PromQL asked for, per family: its increase over the window, by edge (and what else it needs). */
export function queries(seconds: number): Record<string, string> {
  const q = (family: string, extra = '') =>
    `sum by (${EDGE}${extra}) (increase(${family}[${seconds}s]))`;
  return {
    istio_requests_total: q(
      'istio_requests_total',
      ', response_code, grpc_response_status, response_flags',
    ),
    istio_request_duration_milliseconds_bucket: q(
      'istio_request_duration_milliseconds_bucket',
      ', le',
    ),
    istio_tcp_connections_opened_total: q('istio_tcp_connections_opened_total'),
    istio_tcp_sent_bytes_total: q('istio_tcp_sent_bytes_total'),
    istio_tcp_received_bytes_total: q('istio_tcp_received_bytes_total'),
  };
}

interface Answer {
  status: string;
  error?: string;
  data?: {
    resultType: string;
    result: { metric: Record<string, string>; value: [number, string] }[];
  };
}

async function query(base: string, promql: string): Promise<Answer['data'] & object> {
  const url = `${base.replace(/\/+$/, '')}/api/v1/query?query=${encodeURIComponent(promql)}`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  } catch (e) {
    throw new Error(
      `no Prometheus answers at ${base} (${(e as Error).cause ?? (e as Error).message})`,
    );
  }
  const body = (await res.json().catch(() => null)) as Answer | null;
  if (!res.ok || body?.status !== 'success' || body.data?.resultType !== 'vector')
    throw new Error(
      `Prometheus at ${base} refused ${promql}: ${body?.error ?? `HTTP ${res.status}`}`,
    );
  return body.data;
}

/** Edges over the last `seconds`: totals are the window's, rates those over the seconds. */
export async function prometheusEdges(base: string, seconds: number): Promise<GraphEdge[]> {
  const series: Series[] = [];
  await Promise.all(
    Object.entries(queries(seconds)).map(async ([family, promql]) => {
      for (const r of (await query(base, promql)).result)
        series.push({ family, labels: r.metric, value: Number(r.value[1]) });
    }),
  );
  return edgesOf(series, series, seconds);
}
