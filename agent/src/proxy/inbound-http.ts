// The proxy's part of the destination's L7 path (l7/inbound.ts, one InboundL7 per
// node proxy): a connection the inbound pipeline (admit.ts) reads as HTTP is handed
// over with its record, its decisions (a lookup per request) and how to reach the
// app from the pod's netns. Bounds: the InboundL7's InboundLimits
// (docs/authorization-policy.md).
import type { Duplex } from 'node:stream';
import type { InboundL7, InboundTarget } from '../l7/index.ts';
import { normalizeTarget } from '../policy/index.ts';
import type { AuthzRequest } from '../state/index.ts';
import type { RateLimitTable } from '../tables/index.ts';
import { type Connection, noRequestSink } from '../telemetry/index.ts';
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
  /** The HTTPLocalRateLimitPolicy on this port, if any. */
  readonly rateLimit?: RateLimitTable | null;
  /** How to reach the app; by default a socket made in the pod's netns (tests dial loopback). */
  dial?(): Duplex;
}

/**
 * Serves one connection's requests on the node proxy's destination side `l7`; the duplex is
 * already past its L4 checks (and counted).
 */
export function serveHttp(l7: InboundL7, t: HttpTarget, conn: Duplex): void {
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
  l7.serve(conn, targetOf(t));
}

function targetOf(t: HttpTarget): InboundTarget {
  const c = t.conn;
  const log = c.sinks.log;
  return {
    workloadKey: c.destinationWorkload ?? t.ip,
    mtls: c.source !== null,
    reporter: 'destination',
    peerWorkload: c.sourceWorkload,
    peer: c.source,
    self: c.destinationPrincipal,
    service: c.service,
    tracing: c.sinks.tracing ?? null,
    app: { ip: t.ip, port: t.port, pod: c.destinationWorkload ?? t.ip },
    normalize: normalizeTarget,
    authorize: (req) => {
      const v = t.authorize(req);
      if (!v.allow)
        c.request(
          'refused',
          `${req.method} ${log.path(req.path)}: ${denial(v)}`,
          v.audited ? v.audited.join(', ') : undefined,
        );
      return v;
    },
    served: (method, path, v) =>
      c.request('ok', `${method} ${log.path(path)}`, v.audited ? v.audited.join(', ') : undefined),
    rateLimit: t.rateLimit ?? null,
    upstream: {
      workloadKey: t.netnsPath,
      // Made with SO_LINGER {1,0}: resetWhileBusy need not arm it.
      dial: t.dial?.bind(t) ?? (() => dialApp(t.pool, t.netnsPath, t.ip, t.port)),
      // A dying agent resets the app's connection while a request is on it.
      idle: (s) => resetWhileBusy(s, false),
      busy: (s) => resetWhileBusy(s, true),
    },
    busy: resetWhileBusy,
    sink: c.sinks.requests ?? noRequestSink,
  };
}
