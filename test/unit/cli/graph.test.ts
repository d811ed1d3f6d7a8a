// weft graph's edges from several agents' metrics: both reporters of the same
// traffic count once (the larger), errors are 5xx or weft's own flags, and
// the overflow label set and other families are left out.
import { describe, expect, it } from 'vitest';
import { formatDot, formatTable, graphOf } from '../../../agent/src/cli/commands/graph.ts';

const series = (name: string, l: Record<string, string>, v: number) =>
  `${name}{${Object.entries(l)
    .map(([k, x]) => `${k}="${x}"`)
    .join(',')}} ${v}`;
const peers = {
  source_workload: 'client',
  source_workload_namespace: 'shop',
  destination_workload: 'web',
  destination_workload_namespace: 'shop',
  connection_security_policy: 'mutual_tls',
};
const svc = { destination_service_name: 'web', destination_service_namespace: 'shop' };
const req = (reporter: string, code: string, flags: string, v: number, extra = {}) =>
  series(
    'istio_requests_total',
    { reporter, ...peers, response_code: code, response_flags: flags, ...extra },
    v,
  );

describe('weft graph', () => {
  it('merges both nodes, counting each edge once', () => {
    const node1 = [
      '# HELP istio_requests_total HTTP and gRPC requests.',
      req('source', '200', '-', 5, svc),
      req('source', '503', '-', 1, svc),
      req('source', '503', 'no_healthy_upstream', 1, {
        ...svc,
        destination_workload: 'unknown',
      }),
      series('istio_tcp_connections_opened_total', { reporter: 'source', ...peers, ...svc }, 2),
      series('istio_request_duration_milliseconds_count', { reporter: 'source', ...peers }, 6),
    ].join('\n');
    const node2 = [
      req('destination', '200', '-', 5, { destination_service_name: 'unknown' }),
      req('destination', '403', 'policy', 2, { destination_service_name: 'unknown' }),
      req('overflow', '200', '-', 50),
    ].join('\n');
    const edges = graphOf([node1, node2]);
    expect(edges).toEqual([
      {
        source: 'shop/client',
        destination: 'shop/web',
        service: 'shop/web',
        requests: 7,
        errors: 2,
        connections: 2,
        mtls: true,
      },
      {
        source: 'shop/client',
        destination: 'unknown',
        service: 'shop/web',
        requests: 1,
        errors: 1,
        connections: 0,
        mtls: true,
      },
    ]);
    expect(formatTable(edges).split('\n')[1]).toMatch(
      /^shop\/client\s+shop\/web\s+shop\/web\s+7\s+2\s+2\s+yes$/,
    );
    expect(formatDot(edges)).toContain(
      '"shop/client" -> "shop/web" [label="via shop/web\\n7 req, 2 err\\n2 conn"]',
    );
  });
});
