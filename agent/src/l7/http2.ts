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
import type { Endpoint, FaultAbort, RouteRetry } from '../state/index.ts';
import type { CompiledRule, CompiledTrafficPolicy } from '../tables/index.ts';
import { type Decision, endpointFor, pickAgain, ruleFor } from './decide.ts';
import { Exchange, timeoutOf } from './exchange.ts';
import { abortGrpcStatus, abortStatus, faultAbort, faultDelay } from './faults.ts';
import { redirect, requestFilters, responseFilters } from './filters.ts';
import { grpcStatusFor, isGrpc } from './grpc-status.ts';
import { endToEnd, hostOnly, splitTarget } from './headers.ts';
import type { EngineParts } from './parts.ts';
import { backoffMs, maxRetriesFor, RetryBody, RetryState } from './retry.ts';
import type { L7Source, L7View } from './source.ts';
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
    ex.routeRule = rule;
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
    const f = rule.fault;
    if (f) {
      if (f.missing) return answer(500, 'filter_unresolved');
      const delayMs = faultDelay(f, e.rand);
      const abort = faultAbort(f, e.rand);
      if (delayMs > 0) {
        // An injected delay, then the abort drawn with it or the stream as it would have gone.
        ex.flag = 'fault_delay';
        const t = setTimeout(() => {
          if (stream.destroyed || stream.closed) return;
          if (abort) aborted(abort, grpc, ex, a);
          else forward(e, src, view, rule, stream, headers, flags, ex, a, out, rw, url, query);
        }, delayMs);
        stream.once('close', () => {
          clearTimeout(t);
          if (!a.answered) ex.done(499, 'downstream_reset');
        });
        return;
      }
      if (abort) return aborted(abort, grpc, ex, a);
    }
  }
  forward(e, src, view, rule, stream, headers, flags, ex, a, out, rw, url, query);
}

function aborted(abort: FaultAbort, grpc: boolean, ex: Exchange, a: Answerer): void {
  if (grpc) ex.grpcStatus = abortGrpcStatus(abort);
  a.answer(abortStatus(abort, grpc), 'fault_abort');
}

/** A routed stream on to its endpoint (retrying as its rule says). */
function forward(
  e: EngineParts,
  src: L7Source,
  view: L7View,
  rule: CompiledRule | undefined,
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  flags: number,
  ex: Exchange,
  a: Answerer,
  out: OutgoingHttpHeaders,
  rw: { path: string; host: string | undefined },
  url: string,
  query: string,
): void {
  const answer = a.answer;
  const method = ex.method;
  const path = ex.path;
  const authority = ex.authority;
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
  const onHeaders = (h: OutgoingHttpHeaders) => {
    if (rule) {
      responseFilters(rule.filters, h as never);
      if (d.backend && d.backend.filters.length > 0) responseFilters(d.backend.filters, h as never);
    }
  };
  const budget = e.budgets.get(src.workloadKey, d.key);
  budget.deposit(Date.now());
  const policy = rule?.retry;
  const ended = (flags & END_STREAM) !== 0;
  if (!policy && !ended) {
    // No route retry and a body: one attempt, the body streamed through as it comes.
    const pool = poolFor(e, src, d.ep!, d.pool?.policy, a);
    if (pool) relay(stream, flags, pool, out, ex, a, timeoutOf(d), onHeaders);
    return;
  }
  retrying(e, src, view, d, stream, out, ex, a, onHeaders, ended, policy);
}

function poolFor(
  e: EngineParts,
  src: L7Source,
  ep: Endpoint,
  policy: CompiledTrafficPolicy | undefined,
  a: Answerer,
): H2Pool | undefined {
  let pool: H2Pool | undefined;
  try {
    pool = e.upstreams.http2(src, ep, policy);
  } catch {
    a.answer(503, 'upstream_reset');
    return undefined;
  }
  if (!pool) a.answer(503, 'overflow');
  return pool;
}

/**
 * A stream that may be tried again (a route `retry`, or no body to resend): each attempt
 * relayed in turn, the request timeout over all of them, backendRequest over each.
 */
function retrying(
  e: EngineParts,
  src: L7Source,
  view: L7View,
  d: Decision,
  stream: ServerHttp2Stream,
  out: OutgoingHttpHeaders,
  ex: Exchange,
  a: Answerer,
  onHeaders: (h: OutgoingHttpHeaders) => void,
  ended: boolean,
  policy: RouteRetry | undefined,
): void {
  const rule = d.rule;
  // Without a route retry the one timer is per attempt (a connect failure's retry is quick).
  const timeout = policy ? (rule!.timeouts?.request ?? 0) : 0;
  const perTry = policy ? (rule!.timeouts?.backendRequest ?? 0) : timeoutOf(d);
  const budget = e.budgets.get(src.workloadKey, d.key);
  let rs = policy ? new RetryState(policy, ended ? undefined : new RetryBody()) : undefined;
  const body = rs?.body;
  let ep = d.ep!;
  let wait: NodeJS.Timeout | undefined;
  const r: H2Retry = {
    body,
    cancel: undefined,
    again(status) {
      if (a.answered || stream.destroyed) return false;
      // Without a route retry only a failure before any answer is tried again.
      if (!policy && status !== undefined) return false;
      rs ??= new RetryState(undefined, undefined);
      const v = rs.decide(status, budget, maxRetriesFor(view, src, d), Date.now(), e.retryCounts);
      if (v !== 'retry') {
        if (v !== 'no') ex.flag = v;
        return false;
      }
      const next = pickAgain(e.pools, src, view, d, ep);
      if (!next) {
        rs.undo(e.retryCounts, Date.now());
        return false;
      }
      rs.failed = ep;
      ep = next;
      ex.endpoint(next, status ?? 0);
      const ms = status === undefined ? 0 : backoffMs(policy, rs.retries, e.rand());
      if (ms === 0) setImmediate(go);
      else {
        wait = setTimeout(go, ms);
        wait.unref();
      }
      return true;
    },
  };
  const go = () => {
    if (a.answered || stream.destroyed) return;
    const pool = poolFor(e, src, ep, d.pool?.policy, a);
    if (pool) relay(stream, ended ? END_STREAM : 0, pool, out, ex, a, perTry, onHeaders, r);
  };
  let timer: NodeJS.Timeout | undefined;
  if (timeout > 0) {
    timer = setTimeout(() => {
      r.cancel?.();
      a.answer(504, 'timeout');
    }, timeout);
    timer.unref();
  }
  stream.once('close', () => {
    clearTimeout(timer);
    clearTimeout(wait);
    rs?.release();
    r.cancel?.();
    if (!a.answered) ex.done(499, 'downstream_reset');
  });
  if (body) {
    // Kept for a resend while it fits, and written to whichever attempt is current.
    stream.on('data', (c: Buffer) => {
      ex.requestBytes += c.length;
      if (!body.push(c)) stream.pause();
    });
    stream.once('end', () => body.end());
  }
  go();
}

/** How relay() hands a failed attempt back for another one. */
export interface H2Retry {
  /** Kept request body (absent: the stream had none). */
  readonly body: RetryBody | undefined;
  /** Cancels the current attempt (set by relay). */
  cancel: (() => void) | undefined;
  /** Tries again after `status` (undefined: no answer); false: the caller answers. */
  again(status: number | undefined): boolean;
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
        // A status set beforehand (an injected abort's) stands.
        const code = ex.grpcStatus ?? grpcStatusFor(status, flag);
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
  retry?: H2Retry,
): void {
  const ended = (flags & END_STREAM) !== 0;
  const up = pool.session.request(out, { endStream: ended });
  const p = pool;
  p.streams++;
  const answer = a.answer;
  up.on('error', () => {});
  let trailers: OutgoingHttpHeaders | undefined;
  let responded = false;
  /** This attempt was given up for another: its events no longer answer. */
  let gone = false;
  let timer: NodeJS.Timeout | undefined;
  if (retry)
    retry.cancel = () => {
      clearTimeout(timer);
      if (!up.closed) up.close(constants.NGHTTP2_CANCEL);
    };
  if (timeout > 0) {
    timer = setTimeout(() => {
      gone = true;
      up.close(constants.NGHTTP2_CANCEL);
      if (!retry?.again(504)) answer(504, 'timeout');
    }, timeout);
    timer.unref();
  }
  up.on('response', (rh, rflags) => {
    if (a.answered || gone) return;
    const status = Number(rh[':status'] ?? 502);
    if (retry?.again(status)) {
      gone = true;
      clearTimeout(timer);
      up.close(constants.NGHTTP2_CANCEL);
      return;
    }
    responded = true;
    const h = strip(rh);
    onHeaders(h);
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
    stream.on('wantTrailers', () => {
      // No trailers upstream: an empty trailer block still ends the stream cleanly.
      stream.sendTrailers(trailers ?? {});
      ex.done(ex.status, '');
    });
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
  up.once('close', () => {
    p.streams--;
    if (gone) return;
    if (!responded) {
      clearTimeout(timer);
      if (retry?.again(undefined)) return;
      return answer(up.rstCode === constants.NGHTTP2_REFUSED_STREAM ? 503 : 502, 'upstream_reset');
    }
    if (!a.answered) {
      // Reset mid-answer: the client sees a reset too, never a clean end.
      a.answered = true;
      clearTimeout(timer);
      stream.close(up.rstCode || constants.NGHTTP2_INTERNAL_ERROR);
      ex.done(ex.status, 'upstream_reset');
    }
  });
  // The client gone or cancelled: the upstream stream goes too (a retried stream's one
  // listener, in retrying(), cancels whichever attempt is current).
  if (!retry)
    stream.once('close', () => {
      clearTimeout(timer);
      if (!up.closed) up.close(constants.NGHTTP2_CANCEL);
      if (!a.answered) ex.done(499, 'downstream_reset');
    });
  if (retry?.body) {
    up.on('drain', () => stream.resume());
    retry.body.attach(up);
    stream.resume();
  } else if (!ended) {
    stream.on('data', (c: Buffer) => {
      ex.requestBytes += c.length;
      if (!up.write(c)) stream.pause();
    });
    up.on('drain', () => stream.resume());
    stream.once('end', () => up.end());
  }
}
