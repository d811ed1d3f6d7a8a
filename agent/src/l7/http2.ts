// HTTP/2 cleartext from the app (and gRPC over it): each stream routed, balanced
// and sent as a stream of a pooled HTTP/2 session to the endpoint; headers, data
// and trailers (grpc-status) passed back as they come. The engine's own answers
// to a gRPC request are gRPC statuses (trailers-only responses).
import {
  constants,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import { endpointFor, ruleFor } from './decide.ts';
import { Exchange, timeoutOf } from './exchange.ts';
import { redirect, requestFilters, responseFilters } from './filters.ts';
import { grpcStatusFor, isGrpc } from './grpc-status.ts';
import { endToEnd, hostOnly, splitTarget } from './headers.ts';
import type { EngineParts } from './parts.ts';
import type { L7Source } from './source.ts';
import type { H2Pool } from './upstream.ts';

const END_STREAM = constants.NGHTTP2_FLAG_END_STREAM;

/** Response or trailer headers without pseudo-headers and connection-specific ones. */
export function strip(h: IncomingHttpHeaders): OutgoingHttpHeaders {
  return endToEnd(h) as OutgoingHttpHeaders;
}

export function handleHttp2(
  e: EngineParts,
  src: L7Source,
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  flags: number,
): void {
  const method = (headers[':method'] as string | undefined) ?? 'GET';
  const url = (headers[':path'] as string | undefined) ?? '/';
  const authority = (headers[':authority'] as string | undefined) ?? headers.host ?? '';
  const grpc = isGrpc(headers['content-type']);
  const { path, query } = splitTarget(url);
  const ex = new Exchange(e.sink, src, grpc ? 'grpc' : 'http2', method, path, authority);
  ex.trace(e.tracing, headers.traceparent);
  stream.on('error', () => {});
  const a = answerer(stream, grpc, ex);
  const answer = a.answer;
  const view = src.view();
  const rule = ruleFor(src, view, { method, path, query, host: hostOnly(authority), headers });
  if (rule === null) return answer(404, 'no_route');
  const out = strip(headers);
  if (ex.traceparent) out.traceparent = ex.traceparent;
  const rw = { path, host: undefined as string | undefined };
  if (rule) {
    ex.route = `${rule.route} rule ${rule.rule}`;
    const redir = requestFilters(rule.filters, out as never, rw, rule.match);
    if (redir) {
      const to = redirect(redir, rule.match, {
        scheme: 'http',
        host: hostOnly(authority),
        port: src.port,
        path,
        query,
      });
      return answer(to.status, 'redirect', to.location);
    }
  }
  const d = endpointFor(e.pools, e.spread, src, view, rule, true);
  ex.routed(d);
  if (d.status) return answer(d.status, d.flag);
  if (rule && d.backend && d.backend.filters.length > 0)
    requestFilters(d.backend.filters, out as never, rw, rule.match);
  out[':method'] = method;
  out[':path'] = rw.path === path ? url : query ? `${rw.path}?${query}` : rw.path;
  out[':authority'] = rw.host ?? authority;
  out[':scheme'] = (headers[':scheme'] as string | undefined) ?? 'http';
  delete out.host;
  let pool: ReturnType<typeof e.upstreams.http2>;
  try {
    pool = e.upstreams.http2(src, d.ep!, d.pool?.policy);
  } catch {
    return answer(503, 'upstream_reset');
  }
  if (!pool) return answer(503, 'overflow');
  relay(stream, flags, pool, out, ex, a, timeoutOf(d), (h) => {
    if (rule) {
      responseFilters(rule.filters, h as never);
      if (d.backend && d.backend.filters.length > 0) responseFilters(d.backend.filters, h as never);
    }
  });
}

/** How the engine answers a stream itself (a gRPC status for gRPC), once. */
export interface Answerer {
  answered: boolean;
  answer(status: number, flag: string, location?: string): void;
}

export function answerer(stream: ServerHttp2Stream, grpc: boolean, ex: Exchange): Answerer {
  const a: Answerer = {
    answered: false,
    answer(status, flag, location) {
      if (a.answered || stream.destroyed || stream.closed) return void ex.done(status, flag);
      a.answered = true;
      if (stream.headersSent) {
        stream.close(constants.NGHTTP2_INTERNAL_ERROR);
      } else if (grpc && !location) {
        const code = grpcStatusFor(status, flag);
        ex.grpcStatus = code;
        stream.respond(
          {
            ':status': 200,
            'content-type': 'application/grpc',
            'grpc-status': String(code),
            'grpc-message': flag,
          },
          { endStream: true },
        );
        status = 200;
      } else {
        stream.respond(location ? { ':status': status, location } : { ':status': status }, {
          endStream: true,
        });
      }
      ex.done(status, flag);
    },
  };
  return a;
}

/**
 * Sends the client's stream as a stream of the upstream session and passes the answer
 * back: headers (through `onHeaders`), data with back-pressure both ways, trailers;
 * a reset either way resets the other side; `timeout` ms (0: none) answers 504.
 */
export function relay(
  stream: ServerHttp2Stream,
  flags: number,
  pool: H2Pool,
  out: OutgoingHttpHeaders,
  ex: Exchange,
  a: Answerer,
  timeout: number,
  onHeaders: (h: OutgoingHttpHeaders) => void,
): void {
  const ended = (flags & END_STREAM) !== 0;
  const up = pool.session.request(out, { endStream: ended });
  const p = pool;
  p.streams++;
  const answer = a.answer;
  up.on('error', () => {});
  let trailers: OutgoingHttpHeaders | undefined;
  let responded = false;
  let timer: NodeJS.Timeout | undefined;
  if (timeout > 0) {
    timer = setTimeout(() => {
      up.close(constants.NGHTTP2_CANCEL);
      answer(504, 'timeout');
    }, timeout);
    timer.unref();
  }
  up.on('response', (rh, rflags) => {
    if (a.answered) return;
    responded = true;
    const h = strip(rh);
    onHeaders(h);
    const status = Number(rh[':status'] ?? 502);
    h[':status'] = status;
    ex.status = status;
    if (rh['grpc-status'] !== undefined) ex.grpcStatus = Number(rh['grpc-status']);
    if ((rflags & END_STREAM) !== 0) {
      a.answered = true;
      clearTimeout(timer);
      stream.respond(h, { endStream: true });
      ex.done(status, '');
      return;
    }
    stream.respond(h, { waitForTrailers: true });
    up.on('data', (c: Buffer) => {
      ex.responseBytes += c.length;
      if (!stream.write(c)) up.pause();
    });
    stream.on('drain', () => up.resume());
    up.once('end', () => {
      a.answered = true;
      clearTimeout(timer);
      stream.end();
    });
  });
  up.on('trailers', (t) => {
    trailers = strip(t);
    if (t['grpc-status'] !== undefined) ex.grpcStatus = Number(t['grpc-status']);
  });
  stream.on('wantTrailers', () => {
    // No trailers upstream: an empty trailer block still ends the stream cleanly.
    stream.sendTrailers(trailers ?? {});
    ex.done(ex.status, '');
  });
  up.once('close', () => {
    p.streams--;
    if (!responded)
      return answer(up.rstCode === constants.NGHTTP2_REFUSED_STREAM ? 503 : 502, 'upstream_reset');
    if (!a.answered) {
      // Reset mid-answer: the client sees a reset too, never a clean end.
      a.answered = true;
      clearTimeout(timer);
      stream.close(up.rstCode || constants.NGHTTP2_INTERNAL_ERROR);
      ex.done(ex.status, 'upstream_reset');
    }
  });
  // The client gone or cancelled: the upstream stream goes too.
  stream.once('close', () => {
    clearTimeout(timer);
    if (!up.closed) up.close(constants.NGHTTP2_CANCEL);
    if (!a.answered) ex.done(499, 'downstream_reset');
  });
  if (!ended) {
    stream.on('data', (c: Buffer) => {
      ex.requestBytes += c.length;
      if (!up.write(c)) stream.pause();
    });
    up.on('drain', () => stream.resume());
    stream.once('end', () => up.end());
  }
}
