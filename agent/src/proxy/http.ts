// The L7 path, for workloads whose AuthorizationPolicy has HTTP rules: the
// connection (a socket or an HBONE stream) is read as HTTP/1.1, each request is
// authorized on its own (403 on denial, the connection kept), and allowed
// requests go to the app from 127.0.0.6.
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AuthzRequest } from '../policy/authz-types.ts';
import type { AccessEntry, AccessLog } from './access-log.ts';
import type { Verdict } from './authorize.ts';
import { denial } from './authorize.ts';
import { dialFromNetns, INBOUND_SOURCE } from './forward.ts';
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

function headersOf(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers))
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(',') : v;
  return out;
}

function handle(t: HttpTarget, req: IncomingMessage, res: ServerResponse): void {
  const http = {
    method: req.method ?? 'GET',
    path: req.url ?? '/',
    host: req.headers.host ?? '',
    headers: headersOf(req),
  };
  const v = t.authorize(http);
  const what = `${http.method} ${http.path}`;
  if (!v.allow) {
    t.log.add({
      ...t.entry,
      bytesFromClient: 0,
      bytesToClient: 0,
      result: 'refused',
      detail: `${what}: ${denial(v)}`,
      ...(v.audited ? { audit: v.audited.join(', ') } : {}),
    });
    res.writeHead(403, { 'content-type': 'text/plain' });
    res.end('RBAC: access denied\n');
    return;
  }
  const up = request(
    {
      method: req.method,
      path: req.url,
      headers: req.headers,
      createConnection: () => dialFromNetns(t.pool, t.netnsPath, t.ip, t.port, INBOUND_SOURCE),
    },
    (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
      ur.on('end', () =>
        t.log.add({
          ...t.entry,
          bytesFromClient: 0,
          bytesToClient: 0,
          result: 'ok',
          detail: what,
          ...(v.audited ? { audit: v.audited.join(', ') } : {}),
        }),
      );
    },
  );
  up.on('error', () => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
    res.end();
  });
  req.pipe(up);
}

/** Serves one connection's requests; the duplex is already past its L4 checks (and counted). */
export function serveHttp(t: HttpTarget, conn: Duplex): void {
  const server = createServer((req, res) => handle(t, req, res));
  conn.on('error', () => {});
  server.emit('connection', conn);
}
