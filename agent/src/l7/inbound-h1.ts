// HTTP/1.1 at the destination: each request of a connection to a port read as
// HTTP is authorized on its own (403 on denial, the connection kept), held to the
// port's rate limit (429), and sent to the app over the client connection's own
// kept-alive app connection (app-line.ts), its answer passed back. Telemetry reports it as the
// destination. Bounds: the InboundL7's InboundLimits (inbound-bounds.ts) and L7_LIMITS.
import { type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AppLine } from './app-line.ts';
import { Exchange } from './exchange.ts';
import { endToEnd, splitTarget } from './headers.ts';
import { type InboundLimits, idleBody, type Turns } from './inbound-bounds.ts';
import type { InboundTarget } from './inbound-target.ts';
import { passBody } from './pass-body.ts';
import type { RateLimiters } from './rate-limit.ts';
import type { Upstreams } from './upstream.ts';

export interface InboundParts {
  readonly upstreams: Upstreams;
  readonly limiters: RateLimiters;
  readonly limits: InboundLimits;
}

const TEXT = { 'content-type': 'text/plain' };
const CHUNKED_LAST = /(?:^|,)\s*chunked\s*$/i;
const IDEMPOTENT_NO_BODY: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Milliseconds until the request could pass its rate limit; 0: it passes now. */
export function limited(p: InboundParts, t: InboundTarget): number {
  const table = t.rateLimit;
  if (table === null) return 0;
  const now = performance.now();
  return p.limiters.for(t.workloadKey, table, now).admit(t.peer ?? '', now);
}

export function handleInbound1(
  p: InboundParts,
  t: InboundTarget,
  turns: Turns,
  line: AppLine,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  const url = req.url ?? '/';
  const method = req.method ?? 'GET';
  const rh = req.headers;
  const ex = new Exchange(t.sink, t, 'http', method, splitTarget(url).path, rh.host ?? '');
  ex.trace(t.tracing, rh.traceparent);
  if (t.self) ex.peerPrincipal = t.self;
  if (t.service) ex.service = t.service;
  const answer = (status: number, flag: string, body: string, extra?: Record<string, string>) => {
    res.writeHead(status, extra ? { ...TEXT, ...extra } : TEXT);
    res.end(body);
    ex.done(status, flag);
    req.resume();
  };
  const target = t.normalize(url);
  if (target === undefined) return answer(400, 'bad_request', 'bad request target\n');
  // Node's parser joins a repeated request header into one string (set-cookie aside, which
  // requests do not carry): the headers are read as they are, not copied.
  const v = t.authorize({
    method,
    path: target,
    host: rh.host ?? '',
    headers: rh as Record<string, string>,
  });
  if (!v.allow) return answer(403, 'policy', 'RBAC: access denied\n');
  const wait = limited(p, t);
  if (wait > 0)
    return answer(429, 'rate_limited', 'too many requests\n', {
      'retry-after': String(Math.ceil(wait / 1000)),
    });
  const headers = endToEnd(rh);
  // The app's spans (and the next proxy's) are children of this proxy's.
  if (ex.traceparent) headers.traceparent = ex.traceparent;
  // The body keeps its framing and its codings: `gzip, chunked` stays that; the parser took
  // the chunked framing off and the request puts it back on.
  const te = rh['transfer-encoding'];
  if (te !== undefined) headers['transfer-encoding'] = te;
  const cl = rh['content-length'];
  const bodyless = IDEMPOTENT_NO_BODY.has(method) && te === undefined && (cl ?? '0') === '0';
  if (te === undefined) ex.requestBytes = cl === undefined ? 0 : Number(cl) || 0;
  else
    req.on('data', (c: Buffer) => {
      ex.requestBytes += c.length;
    });
  let held = false;
  // The turn at the app ends once, whichever comes first.
  const done = () => {
    if (!held) return;
    held = false;
    turns.release();
  };
  const send = (retry: boolean) => {
    const up = request({ method, path: target, headers: headers as never, agent: line as never });
    up.on('response', (ur) => {
      // The client went away while the app answered: nothing to pass the answer to.
      if (res.destroyed || res.writableEnded) return void up.destroy();
      const out = endToEnd(ur.headers);
      const ute = ur.headers['transfer-encoding'];
      if (ute !== undefined && CHUNKED_LAST.test(ute)) out['transfer-encoding'] = ute;
      const status = ur.statusCode ?? 502;
      ex.status = status;
      res.writeHead(status, out as never);
      passBody(ur, res, ex);
      ur.once('end', () => {
        if (ur.rawTrailers.length > 0) res.addTrailers(ur.trailers as never);
        res.end();
        t.served(method, target, v);
        ex.done(status, '');
      });
      // A response cut short reaches the client as a reset, never as a clean end.
      ur.once('aborted', () => {
        res.destroy();
        ex.done(status, 'upstream_reset');
      });
    });
    up.on('error', (e: NodeJS.ErrnoException) => {
      // A kept-alive connection the app closed as we reused it: once more on a fresh one.
      if (retry && up.reusedSocket && e.code === 'ECONNRESET' && !res.headersSent)
        return send(false);
      done();
      if (res.headersSent) {
        res.destroy();
        ex.done(ex.status || 502, 'upstream_reset');
        return;
      }
      answer(502, 'upstream_connect_failure', '');
    });
    // The client gone mid-request or mid-response: the app's side goes too.
    res.once('close', () => {
      done();
      if (!res.writableFinished) {
        up.destroy();
        ex.done(499, 'downstream_reset');
      }
    });
    if (bodyless) {
      up.end();
      req.resume();
    } else {
      req.pipe(up);
      req.on('error', () => up.destroy());
      idleBody(req, up, p.limits.bodyIdleMs);
    }
  };
  turns.acquire(() => {
    if (res.destroyed) return turns.release();
    held = true;
    send(bodyless);
  });
}
