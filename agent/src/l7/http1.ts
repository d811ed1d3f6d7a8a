// HTTP/1.1 from the app: each request routed, balanced and sent over a pooled
// upstream connection; the answer (and its trailers) passed back. An upgrade
// (WebSocket) is routed the same way, then the connection becomes a byte pipe
// to the chosen endpoint. A failing request answers its own status and leaves
// the others on the connection alone.
import { type IncomingMessage, request, type ServerResponse, STATUS_CODES } from 'node:http';
import { constants } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { CompiledRule } from '../tables/index.ts';
import { type Decision, endpointFor, ruleFor } from './decide.ts';
import { Exchange, timeoutOf } from './exchange.ts';
import { type Headers, redirect, requestFilters, responseFilters } from './filters.ts';
import { endToEnd, hostOnly, splitTarget } from './headers.ts';
import type { EngineParts } from './parts.ts';
import type { RouteRequest } from './route-match.ts';
import type { L7Source } from './source.ts';

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
  if (rule) {
    ex.route = `${rule.route} rule ${rule.rule}`;
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
  if (rule) e.mirror(src, view, rule, ex.method, target, headers, req);
  return { d, headers, target, rule, h2 };
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
  const { d, headers, target, rule } = p;
  const te = req.headers['transfer-encoding'];
  if (te !== undefined) headers['transfer-encoding'] = te;
  const bodyless =
    te === undefined &&
    (req.headers['content-length'] === undefined || req.headers['content-length'] === '0');
  const timeout = timeoutOf(d);
  let timer: NodeJS.Timeout | undefined;
  let up: ReturnType<typeof request> | undefined;
  let finished = false;
  const fail = (status: number, flag: string) => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
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
    if (!res.writableFinished) {
      up?.destroy();
      ex.done(499, 'downstream_reset');
    }
  });
  req.on('data', (c: Buffer) => {
    ex.requestBytes += c.length;
  });
  const send = (retry: boolean) => {
    const pool = e.upstreams.http1(src, d.ep!, d.pool?.policy);
    if (!pool) return fail(503, 'overflow');
    pool.queued++;
    const r = request({
      method: ex.method,
      path: target,
      headers: headers as never,
      agent: pool.agent,
      setHost: false,
    });
    up = r;
    // Waiting ends with a connection, or with the request (a refused dial gives none).
    let waiting = true;
    const served = () => {
      if (!waiting) return;
      waiting = false;
      pool.queued--;
    };
    r.once('socket', served);
    r.once('close', served);
    r.on('response', (ur) => {
      if (finished || res.destroyed) return void r.destroy();
      const rh = endToEnd(ur.headers);
      const ute = ur.headers['transfer-encoding'];
      if (ute !== undefined && /(?:^|,)\s*chunked\s*$/i.test(ute)) rh['transfer-encoding'] = ute;
      if (rule) {
        responseFilters(rule.filters, rh);
        if (d.backend && d.backend.filters.length > 0) responseFilters(d.backend.filters, rh);
      }
      const status = ur.statusCode ?? 502;
      ex.status = status;
      res.writeHead(status, rh as never);
      ur.on('data', (c: Buffer) => {
        ex.responseBytes += c.length;
        if (!res.write(c)) ur.pause();
      });
      res.on('drain', () => ur.resume());
      ur.once('end', () => {
        finished = true;
        clearTimeout(timer);
        if (ur.rawTrailers.length > 0) res.addTrailers(ur.trailers as never);
        res.end();
        ex.done(status, '');
      });
      // A response cut short reaches the client as a reset, never as a clean end.
      ur.once('aborted', () => {
        finished = true;
        clearTimeout(timer);
        res.destroy();
        ex.done(status, 'upstream_reset');
      });
    });
    r.on('error', (err: NodeJS.ErrnoException) => {
      if (r.reusedSocket && retry && err.code === 'ECONNRESET' && !res.headersSent) {
        // A kept-alive connection the server closed as we reused it: once more on a fresh one.
        send(false);
        return;
      }
      if (res.headersSent) {
        finished = true;
        clearTimeout(timer);
        res.destroy();
        ex.done(ex.status || 502, 'upstream_reset');
        return;
      }
      fail(err.code === 'ECONNREFUSED' || r.socket === null ? 503 : 502, 'upstream_reset');
    });
    if (bodyless) {
      r.end();
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
  if (p.h2)
    sendHttp2(
      e,
      src,
      req,
      res,
      ex,
      p,
      bodyless,
      fail,
      () => finished,
      (f) => {
        finished = f;
        clearTimeout(timer);
      },
      (u) => {
        up = u as never;
      },
    );
  else send(bodyless);
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
  bodyless: boolean,
  fail: (status: number, flag: string) => void,
  isFinished: () => boolean,
  finish: (f: boolean) => void,
  track: (up: { destroy(): void }) => void,
): void {
  let pool: ReturnType<EngineParts['upstreams']['http2']>;
  try {
    pool = e.upstreams.http2(src, p.d.ep!, p.d.pool?.policy);
  } catch {
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
  up.on('response', (rh) => {
    if (isFinished() || res.destroyed) return void up.close(constants.NGHTTP2_CANCEL);
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
    up.on('data', (c: Buffer) => {
      ex.responseBytes += c.length;
      if (!res.write(c)) up.pause();
    });
    res.on('drain', () => up.resume());
  });
  up.on('trailers', (t) => res.addTrailers(endToEnd(t) as never));
  up.once('end', () => {
    if (!responded || isFinished()) return;
    finish(true);
    res.end();
    ex.done(ex.status, '');
  });
  up.once('close', () => {
    pl.streams--;
    if (isFinished()) return;
    if (!responded)
      return fail(up.rstCode === constants.NGHTTP2_REFUSED_STREAM ? 503 : 502, 'upstream_reset');
    if (!res.writableEnded) {
      finish(true);
      res.destroy();
      ex.done(ex.status, 'upstream_reset');
    }
  });
  if (bodyless) {
    req.resume();
    return;
  }
  req.on('data', (c: Buffer) => {
    if (!up.write(c)) req.pause();
  });
  up.on('drain', () => req.resume());
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
