// The L4 inbound path's HTTP requests (proxy/http.ts) reported as the L7
// engine reports its own: one RequestRecord per finished request, to the
// connection's request sink (metrics, access log, traces). Nothing is built
// when no sink listens.
import type { IncomingMessage } from 'node:http';
import type { Connection } from './connection.ts';
import type { RequestRecord } from './request-record.ts';
import type { RequestSpan } from './tracing.ts';

export function reportRequest(
  conn: Connection,
  req: IncomingMessage,
  path: string,
  start: number,
  durationMs: number,
  status: number,
  responseFlags: string,
  responseBytes: number,
  span?: RequestSpan,
): void {
  const sink = conn.sinks.requests;
  if (!sink && !span) return;
  const q = path.indexOf('?');
  const tp = span?.traceparent ?? req.headers.traceparent;
  const r: RequestRecord = {
    reporter: conn.direction === 'inbound' ? 'destination' : 'source',
    ...(conn.sourceWorkload ? { sourcePod: conn.sourceWorkload } : {}),
    ...(conn.destinationWorkload ? { destinationPod: conn.destinationWorkload } : {}),
    ...(conn.source ? { sourcePrincipal: conn.source } : {}),
    ...(conn.destinationPrincipal ? { destinationPrincipal: conn.destinationPrincipal } : {}),
    ...(conn.service ? { destinationService: conn.service } : {}),
    protocol: 'http',
    method: req.method ?? 'GET',
    path: q < 0 ? path : path.slice(0, q),
    authority: req.headers.host ?? '',
    status,
    responseFlags,
    mtls: conn.source !== null,
    start,
    durationMs,
    requestBytes: Number(req.headers['content-length'] ?? 0) || 0,
    responseBytes,
    ...(typeof tp === 'string' ? { traceparent: tp } : {}),
  };
  sink?.request(r);
  span?.end(r);
}
