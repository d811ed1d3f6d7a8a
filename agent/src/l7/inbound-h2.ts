// HTTP/2 (and gRPC) at the destination: each stream is authorized on its own (403,
// or PERMISSION_DENIED for gRPC, on denial, the session kept), held to the port's
// rate limit (429 with Retry-After, or RESOURCE_EXHAUSTED), and allowed streams go
// to the app as streams of a pooled HTTP/2 session. inbound-h1.ts is HTTP/1.1's side.
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { Exchange } from './exchange.ts';
import { isGrpc } from './grpc-status.ts';
import { splitTarget } from './headers.ts';
import { answerer, relay, strip } from './http2.ts';
import { type InboundParts, limited } from './inbound-h1.ts';
import type { InboundTarget } from './inbound-target.ts';

export function handleInbound2(
  p: InboundParts,
  t: InboundTarget,
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  flags: number,
): void {
  const method = (headers[':method'] as string | undefined) ?? 'GET';
  const url = (headers[':path'] as string | undefined) ?? '/';
  const authority = (headers[':authority'] as string | undefined) ?? headers.host ?? '';
  const grpc = isGrpc(headers['content-type']);
  const ex = new Exchange(
    t.sink,
    t,
    grpc ? 'grpc' : 'http2',
    method,
    splitTarget(url).path,
    authority,
  );
  ex.trace(t.tracing, headers.traceparent);
  if (t.self) ex.peerPrincipal = t.self;
  if (t.service) ex.service = t.service;
  stream.on('error', () => {});
  const a = answerer(stream, grpc, ex);
  const target = t.normalize(url);
  if (target === undefined) return a.answer(400, 'bad_request');
  const out = strip(headers);
  if (ex.traceparent) out.traceparent = ex.traceparent;
  const joined: Record<string, string> = {};
  for (const k in out) {
    const v = out[k];
    if (v !== undefined) joined[k] = Array.isArray(v) ? v.join(',') : String(v);
  }
  const v = t.authorize({ method, path: target, host: authority, headers: joined });
  if (!v.allow) return a.answer(403, 'policy');
  const wait = limited(p, t);
  if (wait > 0) {
    if (grpc || stream.destroyed || stream.headersSent) return a.answer(429, 'rate_limited');
    a.answered = true;
    stream.respond(
      { ':status': 429, 'retry-after': String(Math.ceil(wait / 1000)) },
      { endStream: true },
    );
    return ex.done(429, 'rate_limited');
  }
  out[':method'] = method;
  out[':path'] = url;
  out[':authority'] = authority;
  out[':scheme'] = (headers[':scheme'] as string | undefined) ?? 'http';
  let pool: ReturnType<InboundParts['upstreams']['http2']>;
  try {
    pool = p.upstreams.http2(t.upstream, t.app);
  } catch {
    return a.answer(503, 'upstream_reset');
  }
  if (!pool) return a.answer(503, 'overflow');
  relay(stream, flags, pool, out, ex, a, 0, () => {});
}
