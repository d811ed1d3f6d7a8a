// Inbound plaintext: sk_lookup steered a connection for podIP:port to the
// proxy's 15006 listener in the pod's netns; the accepted socket's local
// address is that original destination. Forward to the app from 127.0.0.6
// (::1 for IPv6: forward.ts dialApp).
// (Strict pods never get here: sk_lookup refuses plaintext for them.)
// Admission is the inbound pipeline's (admit.ts).
import type { Socket } from 'node:net';
import { hostPort } from '../state/index.ts';
import type { IngressDecisions, PolicyTables } from '../tables/index.ts';
import type { AccessLog, DirectionStats } from '../telemetry/index.ts';
import { admitInbound } from './admit.ts';
import { joinSockets } from './relay.ts';
import type { SocketPool } from './socket-pool.ts';

export interface InboundContext {
  readonly key: string;
  readonly netnsPath: string;
  readonly stats: DirectionStats;
  readonly pool: SocketPool;
  readonly log: AccessLog;
  policy(): PolicyTables;
  /** This workload's decision table (absent: the evaluators decide, see admit.ts). */
  decisions?(): IngressDecisions | undefined;
}

export function handleInbound(ctx: InboundContext, client: Socket): void {
  const stats = ctx.stats;
  stats.accepted++;
  const host = client.localAddress;
  const port = client.localPort;
  const entry: {
    direction: 'inbound';
    via: 'plaintext';
    source: null;
    sourceAddress: string | null;
    destination: string;
    destinationWorkload: string;
    audit?: string;
  } = {
    direction: 'inbound',
    via: 'plaintext',
    source: null,
    sourceAddress: client.remoteAddress ?? null,
    destination: hostPort(host ?? '', port ?? 0),
    destinationWorkload: ctx.key,
  };
  const refuse = (detail: string) => {
    stats.failed++;
    ctx.log.add({ ...entry, bytesFromClient: 0, bytesToClient: 0, result: 'refused', detail });
    client.resetAndDestroy();
  };
  if (!host || !port) return refuse('no local address');
  const keep = (audit: string | undefined) => {
    // AUDIT matches are recorded whatever the verdict (the flow log makes them audit flows).
    if (audit) entry.audit = audit;
  };
  admitInbound(
    {
      policy: ctx.policy(),
      decisions: ctx.decisions?.(),
      workloadKey: ctx.key,
      netnsPath: ctx.netnsPath,
      pool: ctx.pool,
      src: { ip: client.remoteAddress ?? '' },
      ip: host,
      port,
    },
    {
      refuse: (detail, _status, audit) => {
        keep(audit);
        refuse(detail);
      },
      http: (audit) => {
        keep(audit);
        return { stats, log: ctx.log, entry, client };
      },
      join: (upstream, audit) => {
        keep(audit);
        stats.active++;
        joinSockets(client, upstream, stats, (reset, c) => {
          ctx.log.add({
            ...entry,
            bytesFromClient: c.fromClient,
            bytesToClient: c.toClient,
            result: reset ? 'reset' : 'ok',
          });
        });
      },
    },
  );
}
