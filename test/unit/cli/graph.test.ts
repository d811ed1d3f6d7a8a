// weft graph's edges from several agents' metrics: both reporters of the same
// traffic count once (the larger), errors are 5xx or weft's own flags, and
// the overflow label set and other families are left out.
import { describe, expect, it } from 'vitest';
import {
  graphBetween,
  graphOf,
  parseScrape,
  quantile,
} from '../../../agent/src/cli/graph/edges.ts';
import { formatDot, formatMermaid, formatTable } from '../../../agent/src/cli/graph/format.ts';
import { queries } from '../../../agent/src/cli/graph/prometheus.ts';
import { formatSvg } from '../../../agent/src/cli/graph/svg.ts';

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

const noRates = {
  requestsPerS: null,
  errorRatio: null,
  p99Ms: null,
  bytesPerS: null,
  connectionsPerS: null,
};

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
      // gRPC NOT_FOUND answered with HTTP 200 is an error too; OK is not.
      req('destination', '200', '-', 1, { grpc_response_status: '5', destination_workload: 'rpc' }),
      req('destination', '200', '-', 4, { grpc_response_status: '0', destination_workload: 'rpc' }),
      req('overflow', '200', '-', 50),
    ].join('\n');
    const edges = graphOf([node1, node2]);
    expect(edges).toEqual([
      {
        source: 'shop/client',
        destination: 'shop/rpc',
        service: null,
        requests: 5,
        errors: 1,
        connections: 0,
        mtls: true,
        ...noRates,
      },
      {
        source: 'shop/client',
        destination: 'shop/web',
        service: 'shop/web',
        requests: 7,
        errors: 2,
        connections: 2,
        mtls: true,
        ...noRates,
      },
      {
        source: 'shop/client',
        destination: 'unknown',
        service: 'shop/web',
        requests: 1,
        errors: 1,
        connections: 0,
        mtls: true,
        ...noRates,
      },
    ]);
    expect(formatTable(edges).split('\n')[2]).toMatch(
      /^shop\/client\s+shop\/web\s+shop\/web\s+7\s+2\s+2\s+yes$/,
    );
    expect(formatDot(edges)).toContain(
      '"shop/client" -> "shop/web" [label="via shop/web\\n7 req, 2 err\\n2 conn"]',
    );
  });

  it('takes rates from two scrapes: growth over the seconds between them, p99 from the buckets', () => {
    const bucket = (le: string, v: number) =>
      series(
        'istio_request_duration_milliseconds_bucket',
        { reporter: 'destination', ...peers, le },
        v,
      );
    const tcp = (name: string, v: number) =>
      series(name, { reporter: 'source', ...peers, destination_workload: 'db' }, v);
    const scrape = (ok: number, failed: number, b: number[], bytes: number, conns: number) =>
      parseScrape(
        [
          req('destination', '200', '-', ok),
          req('destination', '503', '-', failed),
          bucket('1', b[0]!),
          bucket('5', b[1]!),
          bucket('10', b[2]!),
          bucket('+Inf', b[3]!),
          tcp('istio_tcp_connections_opened_total', conns),
          tcp('istio_tcp_sent_bytes_total', bytes),
          tcp('istio_tcp_received_bytes_total', bytes / 2),
        ].join('\n'),
      );
    const before = scrape(100, 10, [50, 100, 110, 110], 1000, 5);
    // 10 s later: 190 more requests (10 more failed); of them 100 ≤ 1 ms, 80 more ≤ 5, 10 more ≤ 10.
    const after = scrape(280, 20, [150, 280, 300, 300], 31_000, 25);
    const [db, web] = graphBetween([before], [after], 10);
    expect(web).toMatchObject({
      destination: 'shop/web',
      requests: 300,
      errors: 20,
      requestsPerS: 19,
      mtls: true,
    });
    expect(web!.errorRatio).toBeCloseTo(10 / 190);
    // Rank 0.99 × 190 = 188.1 in the (5, 10] bucket (cumulative 180 → 190).
    expect(web!.p99Ms).toBeCloseTo(5 + 5 * ((188.1 - 180) / 10));
    expect(db).toMatchObject({
      destination: 'shop/db',
      connections: 25,
      connectionsPerS: 2,
      bytesPerS: (30_000 + 15_000) / 10,
    });
    // A counter that went down restarted (the agent did): all of it counts.
    const restarted = graphBetween([after], [scrape(5, 0, [5, 5, 5, 5], 0, 0)], 1);
    expect(restarted.find((e) => e.destination === 'shop/web')?.requestsPerS).toBe(5);
    const table = formatTable([db!, web!]).split('\n');
    expect(table[0]).toMatch(/REQ\/S\s+ERR%\s+P99\(MS\)\s+BYTES\/S\s+CONN\/S\s+MTLS$/);
    expect(table[2]).toMatch(
      /^shop\/client\s+shop\/web\s+-\s+300\s+20\s+0\s+19\.0\s+5\.3%\s+9\.05\s+0 B\s+0\.00\s+yes$/,
    );
  });

  it("estimates a quantile as Prometheus's histogram_quantile does", () => {
    const b = new Map([
      [1, 0],
      [5, 40],
      [10, 50],
      [Number.POSITIVE_INFINITY, 50],
    ]);
    expect(quantile(0.5, b)).toBe(1 + 4 * (25 / 40));
    expect(quantile(0.99, b)).toBeCloseTo(5 + 5 * ((49.5 - 40) / 10));
    // In the +Inf bucket: the largest finite bound.
    expect(
      quantile(
        0.99,
        new Map([
          [10, 1],
          [Number.POSITIVE_INFINITY, 100],
        ]),
      ),
    ).toBe(10);
    expect(quantile(0.99, new Map([[Number.POSITIVE_INFINITY, 0]]))).toBeNull();
  });

  it('draws Mermaid and an SVG picture, dashed without mTLS', () => {
    const base = { ...noRates, service: null, requests: 0, errors: 0, connections: 0 };
    const edges = [
      {
        ...base,
        source: 'shop/client',
        destination: 'shop/web',
        service: 'shop/web',
        requests: 7,
        errors: 2,
        mtls: true,
      },
      { ...base, source: 'shop/web', destination: 'shop/db', connections: 3, mtls: false },
      { ...base, source: 'shop/db', destination: 'shop/client', requests: 1, mtls: true },
    ];
    expect(formatMermaid(edges)).toBe(
      [
        'flowchart LR',
        '  w0["shop/client"]',
        '  w1["shop/web"]',
        '  w2["shop/db"]',
        '  w0 -->|"via shop/web<br/>7 req, 2 err"| w1',
        '  w1 -.->|"3 conn"| w2',
        '  w2 -->|"1 req, 0 err"| w0',
        '',
      ].join('\n'),
    );
    const svg = formatSvg(edges);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    for (const name of ['shop/client', 'shop/web', 'shop/db'])
      expect(svg).toContain(`>${name}</text>`);
    // One path per edge; the plaintext one dashed; the one with errors red.
    const paths = svg.match(/<path d="M[\d.]+,[\d.]+ C[^>]*>/g)!;
    expect(paths).toHaveLength(3);
    expect(paths.filter((p) => p.includes('stroke-dasharray'))).toHaveLength(1);
    expect(paths[0]).toContain('#c0392b');
    // Columns by call depth: client, then web, then db; the edge back to client loops under.
    const x = (n: string) =>
      Number(new RegExp(`<rect x="([\\d.]+)"[^>]*/>\\s*<text[^>]*>${n}<`).exec(svg)![1]);
    expect(x('shop/client')).toBeLessThan(x('shop/web'));
    expect(x('shop/web')).toBeLessThan(x('shop/db'));
  });

  it('asks Prometheus for each family’s increase over the window, by edge', () => {
    const q = queries(60);
    expect(q.istio_requests_total).toBe(
      'sum by (reporter, source_workload, source_workload_namespace, destination_workload, destination_workload_namespace, destination_service_name, destination_service_namespace, connection_security_policy, response_code, grpc_response_status, response_flags) (increase(istio_requests_total[60s]))',
    );
    expect(q.istio_request_duration_milliseconds_bucket).toContain(
      'connection_security_policy, le)',
    );
  });
});
