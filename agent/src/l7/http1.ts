// HTTP/1.1 from the app: each request routed, balanced and sent over a pooled
// upstream connection; the answer (and its trailers) passed back. An upgrade
// (WebSocket) is routed the same way, then the connection becomes a byte pipe
// to the chosen endpoint. A failing request answers its own status and leaves
// the others on the connection alone.
import { type IncomingMessage, request, type ServerResponse, STATUS_CODES } from 'node:http';
import { constants } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { Endpoint, FaultAbort } from '../state/index.ts';
import type { CompiledRule } from '../tables/index.ts';
import { type Decision, endpointFor, pickAgain, ruleFor } from './decide.ts';
import { Exchange, timeoutOf } from './exchange.ts';
import { abortStatus, faultAbort, faultDelay } from './faults.ts';
import { type Headers, redirect, requestFilters, responseFilters } from './filters.ts';
import { endToEnd, hostOnly, splitTarget } from './headers.ts';
import type { EngineParts } from './parts.ts';
import { passBody } from './pass-body.ts';
import { backoffMs, maxRetriesFor, RetryBody, RetryState } from './retry.ts';
import type { RouteRequest } from './route-match.ts';
import type { L7Source, L7View } from './source.ts';

const TEXT = { 'content-type': 'text/plain' };

function reply(res: ServerResponse, ex: Exchange, status: number, flag: string, body: string) {
  if (!res.headersSent) {
    res.writeHead(status, TEXT);
    res.end(body);
  } else res.destroy();
  ex.done(status, flag);
}

const BODIES: Record<string, string> = {
  no_route: 'no route matches\n',
  no_backend: 'route rule has no backend\n',
  no_healthy_upstream: 'no healthy upstream\n',
  overflow: 'upstream queue full\n',
  timeout: 'upstream request timeout\n',
  fault_abort: 'fault filter abort\n',
  filter_unresolved: 'route filter not resolved\n',
  upstream_reset: 'upstream connect error or disconnect\n',
};

const pathOf = (req: IncomingMessage) => splitTarget(req.url ?? '/').path;

/** The port of an authority, or undefined. */
function portOf(authority: string): number | undefined {
  const i = authority.lastIndexOf(':');
  if (i < 0 || authority.indexOf(']', i) >= 0) return undefined;
  const n = Number(authority.slice(i + 1));
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

interface Prepared {
  d: Decision;
  headers: Headers;
  target: string;
  rule: CompiledRule | undefined;
  /** The VIP port is declared HTTP/2 or gRPC: the upstream speaks HTTP/2. */
  h2: boolean;
  /** The table generation the request was routed with (a retry picks from it too). */
  view: L7View;
  /** An injected delay (ms, 0: none) and the abort drawn with it (HTTPFault). */
  delayMs: number;
  abort: FaultAbort | undefined;
}

/** Route, filters and endpoint of one HTTP/1.1 request; undefined when the engine answered. */
function prepare(
  e: EngineParts,
  src: L7Source,
  req: IncomingMessage,
  ex: Exchange,
  keepUpgrade: boolean,
  answer: (status: number, flag: string, location?: string) => void,
): Prepared | undefined {
  const url = req.url ?? '/';
  const { path, query } = splitTarget(url);
  const authority = req.headers.host ?? '';
  const rr: RouteRequest = {
    method: ex.method,
    path,
    query,
    host: hostOnly(authority),
    headers: req.headers,
  };
  const view = src.view();
  const rule = ruleFor(src, view, rr);
  if (rule === null) return void answer(404, 'no_route');
  const headers = endToEnd(req.headers, keepUpgrade);
  // The next hop (the server's proxy, the app) continues this proxy's span, or the app's trace.
  if (ex.traceparent) headers.traceparent = ex.traceparent;
  const rw = { path, host: undefined as string | undefined };
  let delayMs = 0;
  let abort: FaultAbort | undefined;
  if (rule) {
    ex.routeRule = rule;
    const redir = requestFilters(rule.filters, headers, rw, rule.match);
    if (redir) {
      const to = redirect(redir, rule.match, {
        scheme: 'http',
        host: rr.host,
        port: portOf(authority) ?? src.port,
        path,
        query,
      });
      return void answer(to.status, 'redirect', to.location);
    }
    const f = rule.fault;
    if (f) {
      if (f.missing) return void answer(500, 'filter_unresolved');
      delayMs = faultDelay(f, e.rand);
      abort = faultAbort(f, e.rand);
      if (abort && delayMs === 0) return void answer(abortStatus(abort, false), 'fault_abort');
    }
  }
  const protocol = view.routes.byVip.get(src.vip)?.protocol;
  const h2 = protocol === 'http2' || protocol === 'grpc';
  const d = endpointFor(e.pools, e.spread, src, view, rule, h2);
  ex.routed(d);
  if (d.status) return void answer(d.status, d.flag);
  if (rule && d.backend && d.backend.filters.length > 0)
    requestFilters(d.backend.filters, headers, rw, rule.match);
  if (rw.host !== undefined) headers.host = rw.host;
  const target = rw.path === path ? url : query ? `${rw.path}?${query}` : rw.path;
  if (rule && !abort) e.mirror(src, view, rule, ex.method, target, headers, req);
  return { d, headers, target, rule, h2, view, delayMs, abort };
}

export function handleHttp1(
  e: EngineParts,
  src: L7Source,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  const ex = new Exchange(
    e.sink,
    src,
    'http',
    req.method ?? 'GET',
    pathOf(req),
    req.headers.host ?? '',
  );
  ex.trace(e.tracing, req.headers.traceparent);
  const p = prepare(e, src, req, ex, false, (status, flag, location) => {
    if (location) {
      res.writeHead(status, { location, 'content-length': 0 });
      res.end();
      ex.done(status, flag);
    } else reply(res, ex, status, flag, BODIES[flag] ?? '');
    req.resume();
  });
  if (!p) return;
  if (p.delayMs === 0) return forward(e, src, req, res, ex, p);
  // An injected delay, then the abort drawn with it or the request as it would have gone.
  ex.flag = 'fault_delay';
  const t = setTimeout(() => {
    if (res.destroyed) return;
    if (p.abort) {
      reply(res, ex, abortStatus(p.abort, false), 'fault_abort', BODIES.fault_abort!);
      req.resume();
    } else forward(e, src, req, res, ex, p);
  }, p.delayMs);
  res.once('close', () => {
    clearTimeout(t);
    if (!res.writableFinished) ex.done(499, 'downstream_reset');
  });
}

/** Sends a prepared request upstream (retrying as its rule says) and passes the answer back. */
function forward(
  e: EngineParts,
  src: L7Source,
  req: IncomingMessage,
  res: ServerResponse,
  ex: Exchange,
  p: Prepared,
): void {
  const { d, headers, target, rule } = p;
  const te = req.headers['transfer-encoding'];
  if (te !== undefined) headers['transfer-encoding'] = te;
  const bodyless =
    te === undefined &&
    (req.headers['content-length'] === undefined || req.headers['content-length'] === '0');
  const budget = e.budgets.get(src.workloadKey, d.key);
  budget.deposit(Date.now());
  const policy = rule?.retry;
  // With a route retry, request bounds all attempts and backendRequest each one.
  const timeout = policy ? (rule!.timeouts?.request ?? 0) : timeoutOf(d);
  const perTry = policy ? (rule!.timeouts?.backendRequest ?? 0) : 0;
  let rs = policy ? new RetryState(policy, bodyless ? undefined : new RetryBody()) : undefined;
  let ep = d.ep!;
  let timer: NodeJS.Timeout | undefined;
  /** The current attempt's backendRequest timer, or the backoff before the next attempt. */
  let tryTimer: NodeJS.Timeout | undefined;
  let up: ReturnType<typeof request> | undefined;
  /** Bumped when an attempt is given up: the handlers of older attempts stand down. */
  let attempt = 0;
  let finished = false;
  const fail = (status: number, flag: string) => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    clearTimeout(tryTimer);
    rs?.release();
    up?.destroy();
    reply(res, ex, status, flag, BODIES[flag] ?? '');
  };
  if (timeout > 0) {
    timer = setTimeout(() => fail(504, 'timeout'), timeout);
    timer.unref();
  }
  // The client gone mid-request or mid-response: the upstream request goes too.
  res.once('close', () => {
    clearTimeout(timer);
    clearTimeout(tryTimer);
    rs?.release();
    if (!res.writableFinished) {
      up?.destroy();
      ex.done(499, 'downstream_reset');
    }
  });
  // A request without a body (by its framing) has no bytes to count: no listener for them.
  if (!bodyless)
    req.on('data', (c: Buffer) => {
      ex.requestBytes += c.length;
    });
  const body = rs?.body;
  if (body) {
    // Kept for a resend while it fits, and written to whichever attempt is current.
    req.on('data', (c: Buffer) => {
      if (!body.push(c)) req.pause();
    });
    req.once('end', () => body.end(req.rawTrailers.length > 0 ? req.trailers : undefined));
    req.once('error', () => up?.destroy());
  }
  // A port declared HTTP/2 or gRPC: each attempt is a stream of the endpoint's session.
  const sendH2 = p.h2
    ? () =>
        sendHttp2(
          e,
          src,
          req,
          res,
          ex,
          p,
          ep,
          bodyless,
          body,
          perTry,
          again,
          fail,
          () => finished,
          () => {
            finished = true;
            clearTimeout(timer);
            rs?.release();
          },
          (u) => {
            up = u as never;
          },
        )
    : undefined;
  /**
   * Tries again after `status` (undefined: no answer came) on another endpoint when the
   * policy, the body and the budget allow; false leaves the answer to the caller.
   */
  const again = (status: number | undefined): boolean => {
    if (finished || res.headersSent) return false;
    if (!rs) {
      // No route retry: a failure before any answer is retried once, when there is no body to resend.
      if (!bodyless) return false;
      rs = new RetryState(undefined, undefined);
    }
    const v = rs.decide(status, budget, maxRetriesFor(p.view, src, d), Date.now(), e.retryCounts);
    if (v !== 'retry') {
      if (v !== 'no') ex.flag = v;
      return false;
    }
    const next = pickAgain(e.pools, src, p.view, d, ep);
    if (!next) {
      rs.undo(e.retryCounts, Date.now());
      return false;
    }
    rs.failed = ep;
    ep = next;
    ex.endpoint(next, status ?? 0);
    attempt++;
    clearTimeout(tryTimer);
    const wait = status === undefined ? 0 : backoffMs(policy, rs.retries, e.rand());
    if (wait === 0) sendH2 ? sendH2() : send(false);
    else {
      tryTimer = setTimeout(() => {
        if (!finished) sendH2 ? sendH2() : send(false);
      }, wait);
      tryTimer.unref();
    }
    return true;
  };
  const send = (reuse: boolean) => {
    const mine = attempt;
    const pool = e.upstreams.http1(src, ep, d.pool?.policy);
    if (!pool) return fail(503, 'overflow');
    const r = request({
      method: ex.method,
      path: target,
      headers: headers as never,
      agent: pool.agent,
      setHost: false,
    });
    up = r;
    // A pooled connection was free and the agent handed it over at once: nothing waits.
    if (!r.reusedSocket) {
      pool.queued++;
      // Waiting ends with a connection, or with the request (a refused dial gives none).
      let waiting = true;
      const served = () => {
        if (!waiting) return;
        waiting = false;
        pool.queued--;
      };
      r.once('socket', served);
      r.once('close', served);
    }
    if (perTry > 0) {
      clearTimeout(tryTimer);
      tryTimer = setTimeout(() => {
        if (mine !== attempt || finished) return;
        r.destroy();
        if (!again(504)) fail(504, 'timeout');
      }, perTry);
      tryTimer.unref();
    }
    r.on('response', (ur) => {
      if (mine !== attempt) return void ur.resume();
      if (finished || res.destroyed) return void r.destroy();
      const status = ur.statusCode ?? 502;
      if (policy && again(status)) {
        // Read to its end so the connection serves again (unless the body was still going).
        if (r.writableEnded) ur.resume();
        else r.destroy();
        return;
      }
      const rh = endToEnd(ur.headers);
      const ute = ur.headers['transfer-encoding'];
      if (ute !== undefined && /(?:^|,)\s*chunked\s*$/i.test(ute)) rh['transfer-encoding'] = ute;
      if (rule) {
        responseFilters(rule.filters, rh);
        if (d.backend && d.backend.filters.length > 0) responseFilters(d.backend.filters, rh);
      }
      ex.status = status;
      res.writeHead(status, rh as never);
      passBody(ur, res, ex);
      ur.once('end', () => {
        finished = true;
        clearTimeout(timer);
        clearTimeout(tryTimer);
        rs?.release();
        if (ur.rawTrailers.length > 0) res.addTrailers(ur.trailers as never);
        res.end();
        ex.done(status, '');
      });
      // A response cut short reaches the client as a reset, never as a clean end.
      ur.once('aborted', () => {
        finished = true;
        clearTimeout(timer);
        clearTimeout(tryTimer);
        rs?.release();
        res.destroy();
        ex.done(status, 'upstream_reset');
      });
    });
    r.on('error', (err: NodeJS.ErrnoException) => {
      if (mine !== attempt || finished) return;
      if (
        r.reusedSocket &&
        reuse &&
        !body?.tooBig &&
        err.code === 'ECONNRESET' &&
        !res.headersSent
      ) {
        // A kept-alive connection the server closed as we reused it: once more on a fresh one.
        send(false);
        return;
      }
      if (res.headersSent) {
        finished = true;
        clearTimeout(timer);
        clearTimeout(tryTimer);
        rs?.release();
        res.destroy();
        ex.done(ex.status || 502, 'upstream_reset');
        return;
      }
      if (again(undefined)) return;
      fail(err.code === 'ECONNREFUSED' || r.socket === null ? 503 : 502, 'upstream_reset');
    });
    if (bodyless) {
      r.end();
      req.resume();
      return;
    }
    if (body) {
      r.on('drain', () => req.resume());
      body.attach(r);
      req.resume();
      return;
    }
    req.pipe(r, { end: false });
    req.once('end', () => {
      if (req.rawTrailers.length > 0) r.addTrailers(req.trailers as never);
      r.end();
    });
    req.once('error', () => r.destroy());
  };
  if (sendH2) sendH2();
  else send(bodyless || body !== undefined);
}

/**
 * An HTTP/1.1 request to a port declared HTTP/2 or gRPC: sent as a stream of the
 * endpoint's pooled HTTP/2 session, the answer (and its trailers) written back as HTTP/1.1.
 */
function sendHttp2(
  e: EngineParts,
  src: L7Source,
  req: IncomingMessage,
  res: ServerResponse,
  ex: Exchange,
  p: Prepared,
  ep: Endpoint,
  bodyless: boolean,
  body: RetryBody | undefined,
  perTry: number,
  again: (status: number | undefined) => boolean,
  fail: (status: number, flag: string) => void,
  isFinished: () => boolean,
  finish: () => void,
  track: (up: { destroy(): void }) => void,
): void {
  let pool: ReturnType<EngineParts['upstreams']['http2']>;
  try {
    pool = e.upstreams.http2(src, ep, p.d.pool?.policy);
  } catch {
    if (again(undefined)) return;
    return fail(503, 'upstream_reset');
  }
  if (!pool) return fail(503, 'overflow');
  const out: Headers = { ...p.headers };
  const authority = (out.host as string | undefined) ?? '';
  delete out.host;
  delete out['transfer-encoding'];
  out[':method'] = ex.method;
  out[':path'] = p.target;
  out[':authority'] = authority;
  out[':scheme'] = 'http';
  const up = pool.session.request(out as never, { endStream: bodyless });
  const pl = pool;
  pl.streams++;
  track({ destroy: () => up.close(constants.NGHTTP2_CANCEL) });
  up.on('error', () => {});
  let responded = false;
  /** This attempt was given up for another: its events no longer answer. */
  let gone = false;
  let timer: NodeJS.Timeout | undefined;
  if (perTry > 0) {
    timer = setTimeout(() => {
      if (gone || isFinished()) return;
      gone = true;
      up.close(constants.NGHTTP2_CANCEL);
      if (!again(504)) fail(504, 'timeout');
    }, perTry);
    timer.unref();
  }
  up.on('response', (rh) => {
    if (gone) return;
    if (isFinished() || res.destroyed) return void up.close(constants.NGHTTP2_CANCEL);
    if (p.rule?.retry && again(Number(rh[':status'] ?? 502))) {
      gone = true;
      up.close(constants.NGHTTP2_CANCEL);
      return;
    }
    responded = true;
    const h = endToEnd(rh);
    if (p.rule) {
      responseFilters(p.rule.filters, h);
      if (p.d.backend && p.d.backend.filters.length > 0) responseFilters(p.d.backend.filters, h);
    }
    const status = Number(rh[':status'] ?? 502);
    ex.status = status;
    res.writeHead(status, h as never);
    // Node emits 'response' a tick late: the body is read from here on, never before.
    passBody(up, res, ex);
  });
  up.on('trailers', (t) => res.addTrailers(endToEnd(t) as never));
  up.once('end', () => {
    if (gone || !responded || isFinished()) return;
    finish();
    res.end();
    ex.done(ex.status, '');
  });
  up.once('close', () => {
    pl.streams--;
    clearTimeout(timer);
    if (gone || isFinished()) return;
    if (!responded) {
      if (again(undefined)) return;
      return fail(up.rstCode === constants.NGHTTP2_REFUSED_STREAM ? 503 : 502, 'upstream_reset');
    }
    if (!res.writableEnded) {
      finish();
      res.destroy();
      ex.done(ex.status, 'upstream_reset');
    }
  });
  if (bodyless) {
    req.resume();
    return;
  }
  up.on('drain', () => req.resume());
  if (body) {
    body.attach(up);
    req.resume();
    return;
  }
  req.on('data', (c: Buffer) => {
    if (!up.write(c)) req.pause();
  });
  req.once('end', () => up.end());
  req.once('error', () => up.close(constants.NGHTTP2_CANCEL));
}

/** An `Upgrade` request (WebSocket): routed, then the connection is a byte pipe to the endpoint. */
export function upgradeHttp1(
  e: EngineParts,
  src: L7Source,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): void {
  const ex = new Exchange(
    e.sink,
    src,
    'http',
    req.method ?? 'GET',
    pathOf(req),
    req.headers.host ?? '',
  );
  ex.trace(e.tracing, req.headers.traceparent);
  socket.on('error', () => {});
  const answer = (status: number, flag: string, location?: string) => {
    const body = BODIES[flag] ?? '';
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${location ? `location: ${location}\r\n` : ''}content-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
    );
    ex.done(status, flag);
  };
  const p = prepare(e, src, req, ex, true, answer);
  if (!p) return;
  if (p.delayMs > 0) {
    ex.flag = 'fault_delay';
    setTimeout(() => {
      if (socket.destroyed) return void ex.done(499, 'downstream_reset');
      if (p.abort) answer(abortStatus(p.abort, false), 'fault_abort');
      else pipeUpgrade(src, socket, head, ex, p, answer);
    }, p.delayMs);
    return;
  }
  pipeUpgrade(src, socket, head, ex, p, answer);
}

function pipeUpgrade(
  src: L7Source,
  socket: Duplex,
  head: Buffer,
  ex: Exchange,
  p: Prepared,
  answer: (status: number, flag: string) => void,
): void {
  let up: Duplex;
  try {
    up = src.dial(p.d.ep!);
  } catch {
    return answer(503, 'upstream_reset');
  }
  let lines = `${ex.method} ${p.target} HTTP/1.1\r\n`;
  for (const k in p.headers) {
    const v = p.headers[k];
    if (Array.isArray(v)) for (const x of v) lines += `${k}: ${x}\r\n`;
    else if (v !== undefined) lines += `${k}: ${v}\r\n`;
  }
  up.write(`${lines}\r\n`);
  if (head.length > 0) up.write(head);
  up.on('error', () => socket.destroy());
  socket.on('error', () => up.destroy());
  up.once('close', () => socket.destroy());
  socket.once('close', () => up.destroy());
  (socket as { setTimeout?: (ms: number) => void }).setTimeout?.(0);
  socket.pipe(up);
  up.pipe(socket);
  ex.done(101, '');
}
