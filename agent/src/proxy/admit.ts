// The inbound pipeline: what every connection to an enrolled pod goes through
// before it reaches the app, whichever way it came (plaintext steered by
// sk_lookup: inbound.ts; a CONNECT over HBONE: hbone/server.ts; the same-node
// hand-off: outbound.ts). One sequence, so the three cannot drift apart:
// does an HTTP rule apply on this port → ingress NetworkPolicy, and
// AuthorizationPolicy (per request when an HTTP rule applies) → AUDIT matches
// kept whatever the verdict → refuse, serve HTTP, or dial the app and join.
// Each way in says only how it refuses, answers and joins.

import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { AuthzRequest } from '../state/authz-types.ts';
import type { PolicyTables } from '../tables/policy.ts';
import type { Connection } from '../telemetry/connection.ts';
import { checkIngress, checkRequest, denial, needsHttp } from './authorize.ts';
import { dialApp } from './forward.ts';
import { serveHttp } from './http.ts';
import type { SocketPool } from './socket-pool.ts';

/** A connection to one enrolled pod's app, as every way in sees it. */
export interface InboundConnection {
  readonly policy: PolicyTables;
  /** `namespace/name` of the destination workload. */
  readonly workloadKey: string;
  readonly netnsPath: string;
  readonly pool: SocketPool;
  /** The peer: its address, and its SPIFFE ID when it came over mutual TLS. */
  readonly src: { readonly ip: string; readonly identity?: string };
  /** The app's address and port (the connection's original destination). */
  readonly ip: string;
  readonly port: number;
}

/** How one way in ends a connection the pipeline has decided on. */
export interface InboundEnds {
  /** Refused: by policy (`status` 403) or the app could not be dialled (503). */
  refuse(detail: string, status: 403 | 503, audit: string | undefined): void;
  /** HTTP rules apply: the connection's record (the L7 path counts and logs there), and the client side to serve. */
  http(audit: string | undefined): { readonly conn: Connection; readonly client: Duplex };
  /** Allowed at layer 4: the app's socket (maybe still connecting), to join with the client. */
  join(app: Socket, audit: string | undefined): void;
}

export function admitInbound(c: InboundConnection, ends: InboundEnds): void {
  const l7 = needsHttp(c.policy, c.workloadKey, c.port);
  const v = checkIngress(c.policy, c.workloadKey, c.src, c.port, l7 ? 'per-request' : undefined);
  const audit = v.audited ? v.audited.join(', ') : undefined;
  if (!v.allow) return ends.refuse(denial(v), 403, audit);
  if (l7) {
    const h = ends.http(audit);
    const { policy, workloadKey, src, port } = c;
    serveHttp(
      {
        netnsPath: c.netnsPath,
        ip: c.ip,
        port,
        pool: c.pool,
        conn: h.conn,
        authorize: (req: AuthzRequest) => checkRequest(policy, workloadKey, src, port, req),
      },
      h.client,
    );
    return;
  }
  let app: Socket;
  try {
    app = dialApp(c.pool, c.netnsPath, c.ip, c.port);
  } catch (e) {
    return ends.refuse((e as Error).message, 503, audit);
  }
  ends.join(app, audit);
}
