// The L7 path, for workloads whose AuthorizationPolicy has HTTP rules: the
// connection (a socket or an HBONE stream) is read as HTTP/1.1, each request is
// authorized on its own (403 on denial, the connection kept), and allowed
// requests go to the app from 127.0.0.6 over kept-alive connections.
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
import type { AuthzRequest } from '../policy/authz-types.ts';
import { normalizeTarget } from '../policy/http-path.ts';
import type { AccessEntry, AccessLog } from './access-log.ts';
import type { Verdict } from './authorize.ts';
import { denial } from './authorize.ts';
import { dialApp } from './forward.ts';
import type { SocketPool } from './socket-pool.ts';
import type { DirectionStats } from './stats.ts';

export interface HttpTarget {
  readonly netnsPath: string;
  readonly ip: string;
  readonly port: number;
  readonly pool: SocketPool;
  readonly stats: DirectionStats;
  readonly log: AccessLog;
  readonly entry: Omit<
    AccessEntry,
    'time' | 'bytesFromClient' | 'bytesToClient' | 'result' | 'detail'
  >;
  authorize(req: AuthzRequest): Verdict;
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
  a.createConnection = () => dialApp(pool, netnsPath, ip, port);
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
  const v = t.authorize(http);
  const what = `${http.method} ${t.log.path(http.path)}`;
  const audit = v.audited ? { audit: v.audited.join(', ') } : {};
  if (!v.allow) {
    t.log.add({
      ...t.entry,
      bytesFromClient: 0,
      bytesToClient: 0,
      result: 'refused',
      detail: `${what}: ${denial(v)}`,
      ...audit,
    });
    res.writeHead(403, { 'content-type': 'text/plain' });
    res.end('RBAC: access denied\n');
    return;
  }
  const headers = endToEnd(req.headers);
  // The body keeps its framing: without it the app would read the body as the next request.
  if (req.headers['transfer-encoding'] !== undefined) headers['transfer-encoding'] = 'chunked';
  const bodyless =
    IDEMPOTENT_NO_BODY.has(http.method) &&
    req.headers['transfer-encoding'] === undefined &&
    (req.headers['content-length'] ?? '0') === '0';
  const send = (retry: boolean) => {
    const up = request({ method: req.method, path: target, headers, agent: upstream(t) }, (ur) => {
      // The client went away while the app answered: nothing to pass the answer to.
      if (res.destroyed || res.writableEnded) {
        up.destroy();
        return;
      }
      res.writeHead(ur.statusCode ?? 502, endToEnd(ur.headers));
      // A response cut short must reach the client as a reset, never as a clean end.
      pipeline(ur, res, (err) => {
        if (err) {
          res.destroy();
          up.destroy();
          return;
        }
        t.log.add({
          ...t.entry,
          bytesFromClient: 0,
          bytesToClient: 0,
          result: 'ok',
          detail: what,
          ...audit,
        });
      });
    });
    up.on('error', (e: NodeJS.ErrnoException) => {
      // A kept-alive connection the app closed as we reused it: once more on a fresh one.
      if (retry && up.reusedSocket && e.code === 'ECONNRESET' && !res.headersSent) {
        send(false);
        return;
      }
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end();
    });
    // The client gone mid-request or mid-response: the app's side goes too.
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    if (bodyless) {
      up.end();
      req.resume();
    } else {
      req.pipe(up);
      req.on('error', () => up.destroy());
    }
  };
  send(bodyless);
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

const server = createServer((req, res) => {
  const conn = req.socket;
  clearTimeout(waiting.get(conn));
  res.on('finish', () => {
    if (!conn.destroyed) awaitHeaders(conn);
  });
  const t = targets.get(conn);
  if (t) handle(t, req, res);
  else res.destroy();
});

/** Serves one connection's requests; the duplex is already past its L4 checks (and counted). */
export function serveHttp(t: HttpTarget, conn: Duplex): void {
  targets.set(conn, t);
  conn.on('error', () => {});
  conn.on('close', () => clearTimeout(waiting.get(conn)));
  awaitHeaders(conn);
  server.emit('connection', conn);
}
