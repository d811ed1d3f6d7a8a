// Inbound plaintext: sk_lookup steered a connection for podIP:port to the
// proxy's 15006 listener in the pod's netns; the accepted socket's local
// address is that original destination. Forward to the app from 127.0.0.6
// (::1 for IPv6: forward.ts dialApp).
// (Strict pods never get here: sk_lookup refuses plaintext for them.)
// Admission is the inbound pipeline's (admit.ts).
import type { Socket } from 'node:net';
import type { InboundL7 } from '../l7/index.ts';
import { hostPort } from '../state/index.ts';
import type { IngressDecisions, PolicyTables } from '../tables/index.ts';
import { Connection, type ConnectionSinks } from '../telemetry/index.ts';
import { admitInbound } from './admit.ts';
import { joinSockets } from './relay.ts';
import type { SocketPool } from './socket-pool.ts';

export interface InboundContext {
  readonly key: string;
  readonly netnsPath: string;
  readonly sinks: ConnectionSinks;
  readonly pool: SocketPool;
  /** The node proxy's destination side of the L7 engine. */
  readonly inboundL7: InboundL7;
  /** The workload's SPIFFE ID when the node runs with mTLS. */
  readonly identity: string | null;
  policy(): PolicyTables;
  /** This workload's decision table (absent: the evaluators decide, see admit.ts). */
  decisions?(): IngressDecisions | undefined;
}

export function handleInbound(ctx: InboundContext, client: Socket): void {
  const host = client.localAddress;
  const port = client.localPort;
  const peerIp = client.remoteAddress ?? '';
  const conn = new Connection(
    ctx.sinks,
    'inbound',
    'plaintext',
    null,
    client.remoteAddress ?? null,
    hostPort(host ?? '', port ?? 0),
    ctx.key,
  );
  conn.destinationPrincipal = ctx.identity;
  const refuse = (detail: string, flag: 'policy' | 'upstream_connect_failure' | 'no_route') => {
    conn.refuse(detail, flag);
    client.resetAndDestroy();
  };
  if (!host || !port) return refuse('no local address', 'no_route');
  const policy = ctx.policy();
  const src = policy.podsByIP.get(peerIp);
  if (src) conn.sourceWorkload = `${src.namespace}/${src.name}`;
  admitInbound(
    {
      policy,
      decisions: ctx.decisions?.(),
      workloadKey: ctx.key,
      netnsPath: ctx.netnsPath,
      pool: ctx.pool,
      inboundL7: ctx.inboundL7,
      src: { ip: peerIp },
      ip: host,
      port,
    },
    {
      // AUDIT matches are recorded whatever the verdict (the flow log makes them audit flows).
      refuse: (detail, status, audit) => {
        conn.audit = audit;
        refuse(detail, status === 403 ? 'policy' : 'upstream_connect_failure');
      },
      http: (audit) => {
        conn.audit = audit;
        conn.admission = { workload: ctx.key, peerIp, port, l7: true };
        return { conn, client };
      },
      join: (upstream, audit) => {
        conn.audit = audit;
        conn.admission = { workload: ctx.key, peerIp, port, l7: false };
        const carried = joinSockets(
          client,
          upstream,
          null,
          (reset, c) => conn.end(reset, c),
          () => conn.movedAway(),
          conn.sinks.stats,
        );
        conn.joined(() => carried.abort());
      },
    },
  );
}
