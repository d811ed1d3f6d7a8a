// Outbound: an enrolled app's connect() was redirected to 127.0.0.1:15001 in its
// own netns. The original destination comes from the BPF map the datapath
// filled (never from the app), keyed by the workload whose listener accepted
// and the app socket's port. A ClusterIP becomes one of its endpoints that the
// source's egress NetworkPolicy allows (compile/netpol-services.ts). Then:
//   a mesh pod on this node  → handed to its inbound side in process (one hop, no TLS);
//   a mesh pod elsewhere     → HBONE (HTTP/2 CONNECT over mutual TLS) to podIP:15008,
//                              or plaintext when the node runs without identities;
//                              any address of a dual-stack pod goes to the same podIP:15008;
//   anything else            → plaintext, dialled from the app's own netns.

import type { ClientHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import type { PeerId } from '../identity/index.ts';
import type { L7Engine } from '../l7/index.ts';
import { hostPort, sameFamily } from '../state/index.ts';
import { type MeshPeer, vipKey } from '../tables/index.ts';
import type { AccessEntry, AccessLog, DirectionStats } from '../telemetry/index.ts';
import { admitInbound } from './admit.ts';
import { checkEgress, denial } from './authorize.ts';
import { decideEgress } from './decide.ts';
import { detectHttp } from './detect.ts';
import { dialFromNetns } from './forward.ts';
import { type HbonePool, resetClientStream } from './hbone/client.ts';
import { type OutboundL7Context, serveOutboundL7 } from './outbound-l7.ts';
import { type Counts, join, resetSocket } from './pipe.ts';
import { joinSockets } from './relay.ts';
import type { SocketPool } from './socket-pool.ts';
import { allowedEndpoints, type Balancer, type ProxyTables } from './tables.ts';

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

export interface OutboundContext extends OutboundL7Context {
  readonly workloadId: number;
  readonly workloadKey: string;
  readonly netnsPath: string;
  readonly podIP: string;
  /** Every address of the workload; a connection speaks for the one of its destination's family. */
  readonly podIPs: readonly string[];
  /** This workload's SPIFFE ID when the node runs with mTLS. */
  readonly identity: string | null;
  /** The same, parsed once, as the destination's AuthorizationPolicy reads it on a same-node hand-off. */
  readonly peer?: PeerId;
  readonly stats: DirectionStats;
  readonly lookup: OrigLookup;
  readonly balancer: Balancer;
  readonly pool: SocketPool;
  readonly hbone: HbonePool | null;
  readonly log: AccessLog;
  /** Per-request routing for VIP ports in the route tables (absent: every connection stays L4). */
  readonly l7?: L7Engine;
  local(key: string): LocalInbound | undefined;
  tables(): ProxyTables;
}

type Entry = Omit<
  AccessEntry,
  'time' | 'via' | 'bytesFromClient' | 'bytesToClient' | 'result' | 'detail'
>;

function refuse(ctx: OutboundContext, client: Socket, entry: Entry, detail: string): void {
  ctx.stats.failed++;
  ctx.log.add({
    ...entry,
    via: 'plaintext',
    bytesFromClient: 0,
    bytesToClient: 0,
    result: 'refused',
    detail,
  });
  client.resetAndDestroy();
}

const ended = (reset: boolean, c: Counts) => ({
  bytesFromClient: c.fromClient,
  bytesToClient: c.toClient,
  result: reset ? ('reset' as const) : ('ok' as const),
});

export function handleOutbound(ctx: OutboundContext, client: Socket): void {
  ctx.stats.accepted++;
  const orig = ctx.lookup(ctx.workloadId, client.remotePort ?? 0, client.remoteFamily === 'IPv6');
  if (!orig) {
    ctx.stats.failed++;
    client.resetAndDestroy();
    return;
  }
  const tables = ctx.tables();
  const key = vipKey(orig.ip, orig.port);
  // A VIP port read as HTTP: each request is routed and balanced by the L7 engine. On a
  // TCP port that routes bind, only a connection whose first bytes are HTTP is.
  const routed = ctx.l7 ? tables.routes.byVip.get(key) : undefined;
  if (routed?.protocol === 'tcp')
    return detectHttp(client, (http) =>
      http ? serveOutboundL7(ctx, client, key, orig.port) : outboundL4(ctx, client, orig),
    );
  if (routed) return serveOutboundL7(ctx, client, key, orig.port);
  outboundL4(ctx, client, orig);
}

/** The L4 path: one upstream connection for the client's, bytes as they are. */
function outboundL4(
  ctx: OutboundContext,
  client: Socket,
  orig: { ip: string; port: number },
): void {
  let host = orig.ip;
  let port = orig.port;
  const tables = ctx.tables();
  const key = vipKey(orig.ip, orig.port);
  const svc = tables.services.get(key);
  // Egress policy applies to the pods behind a VIP: only the allowed ones are picked.
  const allowed = svc ? allowedEndpoints(tables, ctx.workloadKey, key, svc) : undefined;
  const ep = allowed ? ctx.balancer.pick(key, allowed) : undefined;
  if (ep) {
    host = ep.ip;
    port = ep.port;
  }
  const peer = tables.peers.get(host);
  // The address the connection would have left from without the mesh.
  const srcIP = sameFamily(ctx.podIPs, host) ?? ctx.podIP;
  const entry: Entry = {
    direction: 'outbound',
    source: ctx.identity,
    sourceAddress: srcIP,
    destination: hostPort(host, port),
    destinationWorkload: peer?.key ?? null,
  };
  if (svc && !ep)
    return refuse(
      ctx,
      client,
      entry,
      svc.endpoints.length === 0
        ? `service ${svc.service} has no endpoints`
        : `denied by egress NetworkPolicy: no endpoint of service ${svc.service} is allowed`,
    );
  const decided = tables.decisions.egress.get(ctx.workloadKey);
  const egress = decided
    ? decideEgress(decided, tables.policy, ctx.workloadKey, host, port)
    : checkEgress(tables.policy, ctx.workloadKey, host, port);
  if (!egress.allow) return refuse(ctx, client, entry, denial(egress));
  const local = peer ? ctx.local(peer.key) : undefined;
  if (local) {
    // Same node: this process is also the destination's proxy, so its inbound pipeline runs here.
    const src = { ip: srcIP, ...(ctx.identity ? (ctx.peer ?? { identity: ctx.identity }) : {}) };
    return admitInbound(
      {
        policy: tables.policy,
        decisions: tables.decisions.ingress.get(local.key),
        workloadKey: local.key,
        netnsPath: local.netnsPath,
        pool: ctx.pool,
        src,
        ip: host,
        port,
      },
      {
        // AUDIT matches are recorded whatever the verdict, once per connection (on its inbound side).
        refuse: (detail, status, audit) =>
          refuse(ctx, client, status === 403 && audit ? { ...entry, audit } : entry, detail),
        http: () => {
          local.stats.accepted++;
          return {
            stats: local.stats,
            log: ctx.log,
            entry: { ...entry, direction: 'inbound', via: 'local', destinationWorkload: local.key },
            client,
          };
        },
        join: (app, audit) => handOff(ctx, client, local, app, entry, audit ? { audit } : {}),
      },
    );
  }
  if (peer && ctx.identity && ctx.hbone) return tunnel(ctx, client, peer, srcIP, host, port, entry);
  plaintext(ctx, client, host, port, entry);
}

/** Same node: the inbound side runs in this process; one hop, same identity and checks. */
function handOff(
  ctx: OutboundContext,
  client: Socket,
  local: LocalInbound,
  app: Socket,
  entry: Entry,
  audit: { audit?: string },
): void {
  ctx.stats.active++;
  local.stats.accepted++;
  joinSockets(client, app, ctx.stats, (reset, c) => {
    ctx.log.add({ ...entry, via: 'local', ...ended(reset, c) });
    ctx.log.add({
      ...entry,
      direction: 'inbound',
      via: 'local',
      destinationWorkload: local.key,
      ...audit,
      ...ended(reset, c),
    });
  });
}

/** Another node: HTTP/2 CONNECT over mutual TLS to the destination pod's 15008. */
function tunnel(
  ctx: OutboundContext,
  client: Socket,
  peer: MeshPeer,
  srcIP: string,
  host: string,
  port: number,
  entry: Entry,
): void {
  let stream: ClientHttp2Stream | undefined;
  try {
    // The pod's HBONE server listens on its primary address; the original
    // destination, of either family, travels in :authority.
    stream = ctx.hbone!.open({
      srcNetns: ctx.netnsPath,
      srcIdentity: ctx.identity!,
      srcAddress: srcIP,
      dstIp: peer.ip,
      dstIdentity: peer.identity,
      port,
      authority: hostPort(host, port),
    });
  } catch (e) {
    return refuse(ctx, client, entry, (e as Error).message);
  }
  if (!stream) return refuse(ctx, client, entry, `no certificate yet for ${ctx.identity}`);
  const s = stream;
  // Until the tunnel is up, a client that goes away takes the stream with it, and the
  // other way round; join() takes over both once it is.
  const clientGone = () => {
    if (!s.closed) resetClientStream(s);
  };
  client.on('error', () => {});
  client.once('close', clientGone);
  let answered = false;
  const tunnelGone = () => {
    // The session failed (peer unreachable, handshake refused) before any answer.
    if (!answered) refuse(ctx, client, entry, 'HBONE tunnel could not be opened');
  };
  s.on('error', () => {
    if (!client.destroyed) client.resetAndDestroy();
  });
  s.once('close', tunnelGone);
  s.once('response', (headers) => {
    answered = true;
    client.off('close', clientGone);
    const status = headers[':status'];
    if (status !== 200) {
      s.close();
      return refuse(ctx, client, entry, `HBONE CONNECT answered ${status}`);
    }
    if (client.destroyed) return void resetClientStream(s);
    ctx.stats.active++;
    join(client, s, ctx.stats, resetSocket, resetClientStream, (reset, c) => {
      ctx.log.add({ ...entry, via: 'hbone', ...ended(reset, c) });
    });
  });
}

/** Outside the mesh, or a node without identities: the bytes as they are. */
function plaintext(
  ctx: OutboundContext,
  client: Socket,
  host: string,
  port: number,
  entry: Entry,
): void {
  let upstream: Socket;
  try {
    upstream = dialFromNetns(ctx.pool, ctx.netnsPath, host, port);
  } catch (e) {
    return refuse(ctx, client, entry, (e as Error).message);
  }
  ctx.stats.active++;
  joinSockets(client, upstream, ctx.stats, (reset, c) => {
    ctx.log.add({ ...entry, via: 'plaintext', ...ended(reset, c) });
  });
}
