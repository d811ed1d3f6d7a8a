// The inbound pipeline: what every connection to an enrolled pod goes through
// before it reaches the app, whichever way it came (plaintext steered by
// sk_lookup: inbound.ts; a CONNECT over HBONE: hbone/server.ts; the same-node
// hand-off: outbound.ts, and outbound-l7.ts per upstream connection of the L7
// engine). One sequence, so the three cannot drift apart:
// does an HTTP rule apply on this port → ingress NetworkPolicy, and
// AuthorizationPolicy (per request when an HTTP rule applies) → AUDIT matches
// kept whatever the verdict → refuse, serve HTTP, or dial the app and join.
// Each step is a lookup in the destination's decision table (decide.ts).
// Each way in says only how it refuses, answers and joins.

import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { InboundL7 } from '../l7/index.ts';
import type { AuthzRequest } from '../state/index.ts';
import type { IngressDecisions, PolicyTables } from '../tables/index.ts';
import type { Connection } from '../telemetry/index.ts';
import { checkIngress, checkRequest, denial, needsHttp } from './authorize.ts';
import { decideIngress, decideRequest, portDecisions, type Source } from './decide.ts';
import { dialApp } from './forward.ts';
import { serveHttp } from './inbound-http.ts';
import type { SocketPool } from './socket-pool.ts';

/** A connection to one enrolled pod's app, as every way in sees it. */
export interface InboundConnection {
  /** What explains a denial (and decides, where the workload has no decision table). */
  readonly policy: PolicyTables;
  /**
   * The destination workload's decision table (compileNode): every connection and request is
   * a lookup in it. Every way in passes the one the tables hold; it is absent only when they
   * hold none for the workload (tests that hand over bare policy tables): then the evaluators decide.
   */
  readonly decisions?: IngressDecisions | undefined;
  /** `namespace/name` of the destination workload. */
  readonly workloadKey: string;
  readonly netnsPath: string;
  readonly pool: SocketPool;
  /** The node proxy's destination side of the L7 engine: serves a connection read as HTTP. */
  readonly inboundL7: InboundL7;
  /** The peer: its address, and its SPIFFE ID (parsed once per certificate) when it came over mutual TLS. */
  readonly src: Source;
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
  const { policy, workloadKey, src, port, decisions } = c;
  const pd = decisions && portDecisions(decisions, port);
  const l7 = pd ? pd.http : needsHttp(policy, workloadKey, port);
  const v = decisions
    ? decideIngress(decisions, policy, workloadKey, src, port)
    : checkIngress(policy, workloadKey, src, port, l7 ? 'per-request' : undefined);
  const audit = v.audited ? v.audited.join(', ') : undefined;
  if (!v.allow) return ends.refuse(denial(v), 403, audit);
  if (l7) {
    const h = ends.http(audit);
    serveHttp(
      c.inboundL7,
      {
        netnsPath: c.netnsPath,
        ip: c.ip,
        port,
        pool: c.pool,
        conn: h.conn,
        rateLimit: pd?.rateLimit ?? null,
        authorize: pd
          ? (req: AuthzRequest) => decideRequest(pd, policy, workloadKey, src, port, req)
          : (req: AuthzRequest) => checkRequest(policy, workloadKey, src, port, req),
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
