// Outbound: an enrolled app's connect() was redirected to 127.0.0.1:15001 in its
// own netns. The original destination comes from the BPF map the datapath
// filled (never from the app), keyed by the workload whose listener accepted
// and the app socket's port. A ClusterIP becomes an endpoint. Then:
//   a mesh pod on this node  → handed to its inbound side in process (no TLS hop);
//   a mesh pod elsewhere     → HBONE (HTTP/2 CONNECT over mutual TLS) to podIP:15008;
//   anything else            → plaintext, dialled from the app's own netns.
import type { Socket } from 'node:net';
import { vipKey } from '../compile/services.ts';
import type { AccessLog } from './access-log.ts';
import { dialFromNetns, INBOUND_SOURCE } from './forward.ts';
import { type HbonePool, resetClientStream } from './hbone/client.ts';
import { join, resetSocket } from './pipe.ts';
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

/** A workload's inbound side, for same-node hand-off. */
export interface LocalInbound {
  readonly key: string;
  readonly netnsPath: string;
  readonly stats: DirectionStats;
}

export interface OutboundContext {
  readonly workloadId: number;
  readonly workloadKey: string;
  readonly netnsPath: string;
  readonly podIP: string;
  /** This workload's SPIFFE ID when the node runs with mTLS. */
  readonly identity: string | null;
  readonly stats: DirectionStats;
  readonly lookup: OrigLookup;
  readonly balancer: Balancer;
  readonly pool: SocketPool;
  readonly hbone: HbonePool | null;
  readonly log: AccessLog;
  local(key: string): LocalInbound | undefined;
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
  const tables = ctx.tables();
  const key = vipKey(orig.ip, orig.port);
  const svc = tables.services.get(key);
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
  const peer = ctx.identity && ctx.hbone ? tables.peers.get(host) : undefined;
  const entry = {
    direction: 'outbound' as const,
    source: ctx.identity,
    sourceAddress: ctx.podIP,
    destination: `${host}:${port}`,
    destinationWorkload: peer?.key ?? null,
  };
  const fail = (detail: string) => {
    stats.failed++;
    ctx.log.add({
      ...entry,
      via: 'plaintext',
      bytesFromClient: 0,
      bytesToClient: 0,
      result: 'refused',
      detail,
    });
    client.resetAndDestroy();
  };

  if (peer && ctx.identity && ctx.hbone) {
    const local = ctx.local(peer.key);
    if (local) {
      // Same node: the inbound side runs here; no TLS on the wire, same identity.
      let app: Socket;
      try {
        app = dialFromNetns(ctx.pool, local.netnsPath, host, port, INBOUND_SOURCE);
      } catch (e) {
        fail((e as Error).message);
        return;
      }
      stats.active++;
      local.stats.accepted++;
      join(client, app, stats, resetSocket, resetSocket, (reset, c) => {
        const done = {
          bytesFromClient: c.fromClient,
          bytesToClient: c.toClient,
          result: reset ? ('reset' as const) : ('ok' as const),
        };
        ctx.log.add({ ...entry, via: 'local', ...done });
        ctx.log.add({
          ...entry,
          direction: 'inbound',
          via: 'local',
          destinationWorkload: local.key,
          ...done,
        });
      });
      return;
    }
    const stream = ctx.hbone.open({
      srcNetns: ctx.netnsPath,
      srcIdentity: ctx.identity,
      srcAddress: ctx.podIP,
      dstIp: host,
      dstIdentity: peer.identity,
      port,
      authority: `${host}:${port}`,
    });
    if (!stream) {
      fail(`no certificate yet for ${ctx.identity}`);
      return;
    }
    stream.on('error', () => {
      if (!client.destroyed) client.resetAndDestroy();
    });
    stream.once('response', (headers) => {
      const status = headers[':status'];
      if (status !== 200) {
        stream.close();
        fail(`HBONE CONNECT answered ${status}`);
        return;
      }
      stats.active++;
      join(client, stream, stats, resetSocket, resetClientStream, (reset, c) => {
        ctx.log.add({
          ...entry,
          via: 'hbone',
          bytesFromClient: c.fromClient,
          bytesToClient: c.toClient,
          result: reset ? 'reset' : 'ok',
        });
      });
    });
    return;
  }

  let upstream: Socket;
  try {
    upstream = dialFromNetns(ctx.pool, ctx.netnsPath, host, port);
  } catch (e) {
    fail((e as Error).message);
    return;
  }
  stats.active++;
  join(client, upstream, stats, resetSocket, resetSocket, (reset, c) => {
    ctx.log.add({
      ...entry,
      via: 'plaintext',
      bytesFromClient: c.fromClient,
      bytesToClient: c.toClient,
      result: reset ? 'reset' : 'ok',
    });
  });
}
