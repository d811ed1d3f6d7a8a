// Inbound plaintext: sk_lookup steered a connection for podIP:port to the
// proxy's 15006 listener in the pod's netns; the accepted socket's local
// address is that original destination. Forward to the app from 127.0.0.6.
import type { Socket } from 'node:net';
import { dialFromNetns, INBOUND_SOURCE } from './forward.ts';
import { join } from './pipe.ts';
import type { SocketPool } from './socket-pool.ts';
import type { DirectionStats } from './stats.ts';

export interface InboundContext {
  readonly netnsPath: string;
  readonly stats: DirectionStats;
  readonly pool: SocketPool;
}

export function handleInbound(ctx: InboundContext, client: Socket): void {
  const stats = ctx.stats;
  stats.accepted++;
  const host = client.localAddress;
  const port = client.localPort;
  if (!host || !port) {
    stats.failed++;
    client.resetAndDestroy();
    return;
  }
  let upstream: Socket;
  try {
    upstream = dialFromNetns(
      ctx.pool,
      ctx.netnsPath,
      host,
      port,
      host.includes(':') ? '::1' : INBOUND_SOURCE,
    );
  } catch {
    stats.failed++;
    client.resetAndDestroy();
    return;
  }
  stats.active++;
  join(client, upstream, stats);
}
