// The L7 path, for the (workload, port) pairs whose AuthorizationPolicy has HTTP
// rules (policy/authz-l7.ts): the connection (a socket or an HBONE stream) is read
// as HTTP/1.1, each request is authorized on its own (403 on denial, the connection
// kept), and allowed requests go to the app from 127.0.0.6 over kept-alive
// connections. Bounds (docs/authorization-policy.md): HTTP_LIMITS.
import {
  Agent,
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  request,
  type ServerResponse,
} from 'node:http';
import { type Duplex, pipeline } from 'node:stream';
import { InboundHttp2, type InboundHttp2Target, isPreface } from '../l7/index.ts';
import { normalizeTarget } from '../policy/index.ts';
import type { AuthzRequest } from '../state/index.ts';
import { type Connection, noRequestSink, reportRequest } from '../telemetry/index.ts';
import { denial, type Verdict } from './authorize.ts';
import { dialApp } from './forward.ts';
import { resetWhileBusy } from './pipe.ts';
import type { SocketPool } from './socket-pool.ts';

export interface HttpTarget {
  readonly netnsPath: string;
  readonly ip: string;
  readonly port: number;
  readonly pool: SocketPool;
  /** The connection's record: its requests are logged and reported through it. */
  readonly conn: Connection;
  authorize(req: AuthzRequest): Verdict;
  /** How to reach the app; by default a socket made in the pod's netns (tests dial loopback). */
  dial?(): Duplex;
}

/**
 * The L7 path's bounds; `weft agent --http-body-timeout` sets bodyIdleMs.
 * - appConnsPerClient: requests of one client connection at the app at once, so pipelined
 *   requests cannot open an app connection each (the rest wait their turn, in order);
 * - queuedPerClient: requests of one client connection waiting for such a turn (reading
 *   from the client pauses from PAUSE_QUEUED on); a client pipelining deeper still is cut off;
 * - bodyIdleMs: how long a request body may go without a byte from the client before
 *   the request, its app connection and the client connection are dropped.
 */
export const HTTP_LIMITS = { appConnsPerClient: 4, queuedPerClient: 1024, bodyIdleMs: 15_000 };
const PAUSE_QUEUED = 64;

export function configureHttp(limits: Partial<typeof HTTP_LIMITS>): void {
  Object.assign(HTTP_LIMITS, limits);
}

// Headers about one hop, not the message (RFC 9110 §7.6.1): each side of the proxy has its own.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** The message's headers without this hop's (and those the Connection header names). */
export function endToEnd(h: IncomingHttpHeaders): OutgoingHttpHeaders {
  const named = new Set(
    String(h.connection ?? '')
      .split(',')
      .map((x) => x.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(h)) {
    if (v !== undefined && !HOP_BY_HOP.has(k) && !named.has(k)) out[k] = v;
  }
  return out;
}

// One keep-alive pool per app endpoint (pod netns, address, port): a client's requests reuse
// connections to the app instead of paying a connect (and a socket made in the netns) each.
const upstreams = new Map<string, Agent>();
const MAX_POOLS = 1024;

function upstream(t: HttpTarget): Agent {
  const key = `${t.netnsPath}|${t.ip}|${t.port}`;
  let a = upstreams.get(key);
  if (a) return a;
  if (upstreams.size >= MAX_POOLS) {
    // Pools of pods long gone hold nothing: drop the idle ones.
    for (const [k, p] of upstreams) {
      if (Object.keys(p.sockets).length === 0 && Object.keys(p.freeSockets).length === 0)
        upstreams.delete(k);
    }
  }
  // Idle app connections close after 4 s, under the 5 s most app servers keep them.
  a = new Agent({ keepAlive: true, maxFreeSockets: 64, timeout: 4000 });
  const { pool, netnsPath, ip, port } = t;
  a.createConnection = (t.dial?.bind(t) ?? (() => dialApp(pool, netnsPath, ip, port))) as never;
  // Back in the pool, a connection to the app has nothing in flight: it may end cleanly.
  a.on('free', (s: Duplex) => resetWhileBusy(s, false));
  upstreams.set(key, a);
  return a;
}

function headersOf(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers))
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(',') : v;
  return out;
}

const IDEMPOTENT_NO_BODY = new Set(['GET', 'HEAD', 'OPTIONS']);

function handle(t: HttpTarget, req: IncomingMessage, res: ServerResponse): void {
  const target = normalizeTarget(req.url ?? '/');
  if (target === undefined) {
    res.writeHead(400, { 'content-type': 'text/plain' });
    res.end('bad request target\n');
    return;
  }
  const http = {
    method: req.method ?? 'GET',
    path: target,
    host: req.headers.host ?? '',
    headers: headersOf(req),
  };
  const start = Date.now();
  const t0 = performance.now();
  const v = t.authorize(http);
  const what = `${http.method} ${t.conn.sinks.log.path(http.path)}`;
  const audit = v.audited ? v.audited.join(', ') : undefined;
  const incoming = req.headers.traceparent;
  const span = t.conn.sinks.tracing?.start(
    'destination',
    typeof incoming === 'string' ? incoming : undefined,
    start,
  );
  let reported = false;
  const report = (status: number, flags: string, sent: number) => {
    if (reported) return;
    reported = true;
    reportRequest(t.conn, req, target, start, performance.now() - t0, status, flags, sent, span);
  };
  if (!v.allow) {
    t.conn.request('refused', `${what}: ${denial(v)}`, audit);
    report(403, 'policy', 0);
    res.writeHead(403, { 'content-type': 'text/plain' });
    res.end('RBAC: access denied\n');
    return;
  }
  const headers = endToEnd(req.headers);
  // The app's spans (and the next proxy's) are children of this proxy's.
  if (span) headers.traceparent = span.traceparent;
  // The body keeps its framing (without it the app would read the body as the next request)
  // and its codings: `gzip, chunked` stays that; the parser took the chunked framing off and
  // the request puts it back on (it always ends the list: the parser refuses it otherwise).
  const te = req.headers['transfer-encoding'];
  if (te !== undefined) headers['transfer-encoding'] = te;
  const bodyless =
    IDEMPOTENT_NO_BODY.has(http.method) &&
    req.headers['transfer-encoding'] === undefined &&
    (req.headers['content-length'] ?? '0') === '0';
  const slot = turns.get(req.socket);
  const send = (retry: boolean) => {
    const up = request({ method: req.method, path: target, headers, agent: upstream(t) }, (ur) => {
      // The client went away while the app answered: nothing to pass the answer to.
      if (res.destroyed || res.writableEnded) {
        up.destroy();
        return;
      }
      const rh = endToEnd(ur.headers);
      // The answer's codings too: `gzip, chunked` stays that (re-chunked here).
      const ute = ur.headers['transfer-encoding'];
      if (ute !== undefined && /(?:^|,)\s*chunked\s*$/i.test(ute)) rh['transfer-encoding'] = ute;
      const status = ur.statusCode ?? 502;
      res.writeHead(status, rh);
      let sent = 0;
      ur.on('data', (c: Buffer) => {
        sent += c.length;
      });
      // A response cut short must reach the client as a reset, never as a clean end.
      pipeline(ur, res, (err) => {
        if (err) {
          report(status, 'upstream_reset', sent);
          res.destroy();
          up.destroy();
          return;
        }
        t.conn.request('ok', what, audit);
        report(status, '', sent);
      });
    });
    // A dying agent resets the app's connection while this request is on it.
    up.on('socket', (s: Duplex) => resetWhileBusy(s, true));
    up.on('error', (e: NodeJS.ErrnoException) => {
      // A kept-alive connection the app closed as we reused it: once more on a fresh one.
      if (retry && up.reusedSocket && e.code === 'ECONNRESET' && !res.headersSent) {
        send(false);
        return;
      }
      done();
      if (res.headersSent) {
        res.destroy();
        return;
      }
      report(502, 'upstream_connect_failure', 0);
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end();
    });
    // The client gone mid-request or mid-response: the app's side goes too.
    res.on('close', () => {
      done();
      if (!res.writableFinished) up.destroy();
    });
    if (bodyless) {
      up.end();
      req.resume();
    } else {
      req.pipe(up);
      req.on('error', () => up.destroy());
      idleBody(req, up);
    }
  };
  // The turn at the app ends once, whichever of these comes first.
  let held = false;
  const done = () => {
    if (!held) return;
    held = false;
    slot?.release();
  };
  if (!slot) {
    send(bodyless);
    return;
  }
  slot.acquire(() => {
    if (res.destroyed) return slot.release();
    held = true;
    send(bodyless);
  });
}

/** Turns at the app for one client connection: at most HTTP_LIMITS.appConnsPerClient at once. */
class Turns {
  private active = 0;
  private paused = false;
  private readonly waiting: (() => void)[] = [];
  private readonly conn: Duplex;

  constructor(conn: Duplex) {
    this.conn = conn;
  }

  acquire(go: () => void): void {
    if (this.active < HTTP_LIMITS.appConnsPerClient) {
      this.active++;
      go();
      return;
    }
    if (this.waiting.length >= HTTP_LIMITS.queuedPerClient) {
      this.conn.destroy();
      return;
    }
    this.waiting.push(go);
    // One read can hold thousands of pipelined requests; stop reading more until they drain.
    if (this.waiting.length >= PAUSE_QUEUED && !this.paused) {
      this.paused = true;
      this.conn.pause();
    }
  }

  release(): void {
    const next = this.waiting.shift();
    if (this.paused && this.waiting.length < PAUSE_QUEUED) {
      this.paused = false;
      this.conn.resume();
    }
    if (next) next();
    else this.active--;
  }
}

const turns = new WeakMap<object, Turns>();

/**
 * A request body that stops coming: after HTTP_LIMITS.bodyIdleMs without a byte, the
 * request goes, with its app connection and the client connection (whose framing is lost).
 */
function idleBody(req: IncomingMessage, up: { destroy(): void }): void {
  if (req.complete) return;
  let last = performance.now();
  const check = () => {
    const idle = performance.now() - last;
    if (req.complete) return;
    if (idle < HTTP_LIMITS.bodyIdleMs) {
      timer = setTimeout(check, HTTP_LIMITS.bodyIdleMs - idle);
      timer.unref();
      return;
    }
    up.destroy();
    req.socket.destroy();
  };
  let timer = setTimeout(check, HTTP_LIMITS.bodyIdleMs);
  timer.unref();
  req.on('data', () => {
    last = performance.now();
  });
  const stop = () => clearTimeout(timer);
  req.once('end', stop);
  req.once('close', stop);
}

// One HTTP server parses every connection; each connection's target rides with its socket.
// It never listens, so Node's own header timeout does not run: a connection gets
// HEADERS_MS for each request's headers here, or goes.
const HEADERS_MS = 30_000;
const targets = new WeakMap<object, HttpTarget>();
const waiting = new WeakMap<object, NodeJS.Timeout>();

function awaitHeaders(conn: Duplex): void {
  clearTimeout(waiting.get(conn));
  const timer = setTimeout(() => conn.destroy(), HEADERS_MS);
  timer.unref();
  waiting.set(conn, timer);
}

/** Requests of a client connection not yet answered in full (pipelined ones included). */
const inFlight = new WeakMap<object, number>();

// --- handover: connections served here, and a drain that closes each at a request boundary.
const served = new Set<Duplex>();
let draining = false;

/**
 * The agent is handing over: every response from now on says `Connection: close`, so each
 * client moves to a new connection (served by the new agent) after its current request.
 */
export function drainHttp(): void {
  draining = true;
  inboundH2.drain();
}

/** Client connections the L7 path serves now. */
export function httpConnections(): number {
  return served.size;
}
// --- end handover

const server = createServer((req, res) => {
  const conn = req.socket;
  clearTimeout(waiting.get(conn));
  if (draining) res.shouldKeepAlive = false;
  // A dying agent resets the client's connection while a request is in flight on it.
  const n = (inFlight.get(conn) ?? 0) + 1;
  inFlight.set(conn, n);
  if (n === 1) resetWhileBusy(conn, true);
  res.on('finish', () => {
    const left = (inFlight.get(conn) ?? 1) - 1;
    inFlight.set(conn, left);
    if (left === 0 && !conn.destroyed) resetWhileBusy(conn, false);
    if (!conn.destroyed) awaitHeaders(conn);
  });
  const t = targets.get(conn);
  if (!t) return res.destroy();
  // Requests are handled after serveHttp's caller (and its contain()) returned: a bug here
  // must cost this connection only, as it would there.
  try {
    handle(t, req, res);
  } catch {
    t.conn.sinks.stats.errors++;
    conn.destroy();
  }
});

/** Serves one connection's requests; the duplex is already past its L4 checks (and counted). */
export function serveHttp(t: HttpTarget, conn: Duplex): void {
  served.add(conn);
  // Requests are logged one by one; the connection itself is counted, not logged.
  t.conn.logEnd = false;
  t.conn.joined(() => conn.destroy());
  conn.once('close', () => {
    const s = conn as { bytesRead?: number; bytesWritten?: number };
    t.conn.end(conn.errored !== null, {
      fromClient: s.bytesRead ?? 0,
      toClient: s.bytesWritten ?? 0,
    });
  });
  conn.on('error', () => {});
  conn.on('close', () => {
    clearTimeout(waiting.get(conn));
    served.delete(conn);
  });
  awaitHeaders(conn);
  // HTTP/2 (gRPC) is authorized per stream by the L7 engine's inbound side; HTTP/1.1 here.
  conn.once('data', (first: Buffer) => {
    conn.pause();
    conn.unshift(first);
    if (isPreface(first)) {
      clearTimeout(waiting.get(conn));
      return inboundH2.serve(conn, http2Target(t));
    }
    targets.set(conn, t);
    turns.set(conn, new Turns(conn));
    server.emit('connection', conn);
    conn.resume();
  });
}

// One HTTP/2 side for every inbound connection, as `server` above is for HTTP/1.1.
const inboundH2 = new InboundHttp2();

function http2Target(t: HttpTarget): InboundHttp2Target {
  const c = t.conn;
  return {
    workloadKey: c.destinationWorkload ?? '',
    mtls: c.source !== null,
    reporter: 'destination',
    peerWorkload: c.sourceWorkload,
    peer: c.source,
    tracing: c.sinks.tracing ?? null,
    app: { ip: t.ip, port: t.port, pod: c.destinationWorkload ?? t.ip },
    normalize: normalizeTarget,
    authorize: (req) => {
      const v = t.authorize(req);
      if (!v.allow)
        c.request(
          'refused',
          `${req.method} ${c.sinks.log.path(req.path)}: ${denial(v)}`,
          v.audited ? v.audited.join(', ') : undefined,
        );
      return v.allow;
    },
    dial: t.dial?.bind(t) ?? (() => dialApp(t.pool, t.netnsPath, t.ip, t.port)),
    sink: c.sinks.requests ?? noRequestSink,
  };
}
