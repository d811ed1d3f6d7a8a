// Outbound: an enrolled app's connect() was redirected to 127.0.0.1:15001 in its
// own netns. The original destination comes from the BPF map the datapath
// filled (never from the app), keyed by the workload whose listener accepted
// and the app socket's port. A ClusterIP becomes an endpoint; a pod IP is
// dialled as is, from the app's own netns.
import type { Socket } from 'node:net';
import { vipKey } from '../compile/services.ts';
import { dialFromNetns } from './forward.ts';
import { join } from './pipe.ts';
import type { SocketPool } from './socket-pool.ts';
import type { DirectionStats } from './stats.ts';
import type { Balancer, ProxyTables } from './tables.ts';

export interface OriginalDestination {
  ip: string;
  port: number;
}

/** Looks up (and consumes) the original destination of an accepted connection. */
export type OrigLookup = (
  workloadId: number,
  clientPort: number,
  v6: boolean,
) => OriginalDestination | undefined;

export interface OutboundContext {
  readonly workloadId: number;
  readonly netnsPath: string;
  readonly stats: DirectionStats;
  readonly lookup: OrigLookup;
  readonly balancer: Balancer;
  readonly pool: SocketPool;
  tables(): ProxyTables;
}

export function handleOutbound(ctx: OutboundContext, client: Socket): void {
  const stats = ctx.stats;
  stats.accepted++;
  const orig = ctx.lookup(ctx.workloadId, client.remotePort ?? 0, client.remoteFamily === 'IPv6');
  if (!orig) {
    stats.failed++;
    client.resetAndDestroy();
    return;
  }
  let host = orig.ip;
  let port = orig.port;
  const key = vipKey(orig.ip, orig.port);
  const svc = ctx.tables().services.get(key);
  if (svc) {
    const ep = ctx.balancer.pick(key, svc);
    if (!ep) {
      stats.failed++;
      client.resetAndDestroy();
      return;
    }
    host = ep.ip;
    port = ep.port;
  }
  let upstream: Socket;
  try {
    upstream = dialFromNetns(ctx.pool, ctx.netnsPath, host, port);
  } catch {
    stats.failed++;
    client.resetAndDestroy();
    return;
  }
  stats.active++;
  join(client, upstream, stats);
}
