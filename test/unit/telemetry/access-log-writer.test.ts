// The access log's lines: Envoy's field names, one JSON object a line, query
// strings left out unless asked, and no more than its lines a second (the rest
// counted and said in the next second's first line).
import { describe, expect, it } from 'vitest';
import { AccessLog } from '../../../agent/src/telemetry/access-log.ts';
import { AccessLogWriter } from '../../../agent/src/telemetry/access-log-writer.ts';
import { Connection } from '../../../agent/src/telemetry/connection.ts';
import type { RequestRecord } from '../../../agent/src/telemetry/request-record.ts';
import { DirectionStats } from '../../../agent/src/telemetry/stats.ts';

const request = (path: string): RequestRecord => ({
  reporter: 'destination',
  sourcePod: 'shop/client',
  destinationPod: 'shop/web',
  sourcePrincipal: 'spiffe://cluster.local/ns/shop/sa/client',
  protocol: 'http',
  method: 'GET',
  path,
  authority: 'web:8081',
  status: 503,
  responseFlags: '',
  mtls: true,
  start: Date.parse('2026-12-07T05:00:00.000Z'),
  durationMs: 12.4,
  requestBytes: 0,
  responseBytes: 4,
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
});

function rig(limit = 100) {
  const lines: Record<string, unknown>[] = [];
  let now = Date.parse('2026-12-07T05:00:00.100Z');
  const w = new AccessLogWriter(
    { write: (s: string) => lines.push(JSON.parse(s)) },
    { linesPerSecond: limit, now: () => now },
  );
  return { w, lines, tick: (ms: number) => (now += ms) };
}

describe('AccessLogWriter', () => {
  it('writes a request with its fields, its path without the query, and the trace id', () => {
    const { w, lines } = rig();
    w.request(request('/fail?token=s3cret'));
    expect(lines).toEqual([
      {
        start_time: '2026-12-07T05:00:00.000Z',
        duration: 12,
        protocol: 'HTTP/1.1',
        reporter: 'destination',
        method: 'GET',
        authority: 'web:8081',
        path: '/fail?…',
        response_code: 503,
        response_flags: '-',
        bytes_received: 0,
        bytes_sent: 4,
        source_workload: 'shop/client',
        source_principal: 'spiffe://cluster.local/ns/shop/sa/client',
        destination_workload: 'shop/web',
        destination_principal: null,
        destination_service: null,
        connection_security_policy: 'mutual_tls',
        trace_id: '0af7651916cd43dd8448eb211c80319c',
      },
    ]);
  });

  it('writes a connection once it closes, with bytes and why weft refused it', () => {
    const { w, lines } = rig();
    const sinks = {
      stats: new DirectionStats(),
      log: new AccessLog(),
      observer: w,
      registry: null,
    };
    const c = new Connection(
      sinks,
      'inbound',
      'hbone',
      'spiffe://x/ns/a/sa/b',
      '10.0.0.1',
      '10.0.0.2:80',
      'shop/web',
    );
    c.refuse('denied by ingress NetworkPolicy (shop/p): no rule', 'policy');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      protocol: 'TCP',
      reporter: 'destination',
      response_flags: 'policy',
      upstream_host: '10.0.0.2:80',
      destination_workload: 'shop/web',
      connection_security_policy: 'mutual_tls',
      detail: 'denied by ingress NetworkPolicy (shop/p): no rule',
    });
  });

  it('writes at most its lines a second and says how many it left out', () => {
    const { w, lines, tick } = rig(2);
    for (let i = 0; i < 5; i++) w.request(request(`/${i}`));
    expect(lines.map((l) => l.path)).toEqual(['/0', '/1']);
    tick(1000);
    w.request(request('/next'));
    expect(lines.slice(2)).toEqual([
      { start_time: '2026-12-07T05:00:01.100Z', dropped_lines: 3 },
      expect.objectContaining({ path: '/next' }),
    ]);
  });
});
