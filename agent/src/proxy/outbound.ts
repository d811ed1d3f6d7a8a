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

import { type ClientHttp2Stream, constants as h2 } from 'node:http2';
import type { Socket } from 'node:net';
import type { InboundL7, L7Engine, Pools } from '../l7/index.ts';
import { hostPort, sameFamily } from '../state/index.ts';
import { type MeshPeer, vipKey } from '../tables/index.ts';
import { Connection, type ConnectionSinks } from '../telemetry/index.ts';
import { admitInbound } from './admit.ts';
import { denial } from './authorize.ts';
import { pickEndpoint } from './balance-l4.ts';
import { egressVerdict } from './decide.ts';
import { detectHttp } from './detect.ts';
import { dialFromNetns } from './forward.ts';
import { type HbonePool, resetClientStream } from './hbone/client.ts';
import { type OutboundL7Context, onNode, serveOutboundL7 } from './outbound-l7.ts';
import { join, resetSocket } from './pipe.ts';
import { joinSockets } from './relay.ts';
import type { SocketPool } from './socket-pool.ts';
import { allowedEndpoints, type ProxyTables } from './tables.ts';

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
  readonly sinks: ConnectionSinks;
  /** The node proxy's destination side of the L7 engine. */
  readonly inboundL7: InboundL7;
  /** Its SPIFFE ID when the node runs with mTLS. */
  readonly identity: string | null;
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
  readonly sinks: ConnectionSinks;
  readonly lookup: OrigLookup;
  /** The node's balancer state per Service port, shared with the L7 engine. */
  readonly pools: Pools;
  readonly pool: SocketPool;
  readonly hbone: HbonePool | null;
  /** Per-request routing for VIP ports in the route tables (absent: every connection stays L4). */
  readonly l7?: L7Engine;
  local(key: string): LocalInbound | undefined;
  tables(): ProxyTables;
}

export function handleOutbound(ctx: OutboundContext, client: Socket): void {
  const conn = new Connection(ctx.sinks, 'outbound', 'plaintext', ctx.identity, null, '', null);
  conn.sourceWorkload = ctx.workloadKey;
  const orig = ctx.lookup(ctx.workloadId, client.remotePort ?? 0, client.remoteFamily === 'IPv6');
  if (!orig) {
    conn.refuse('no original destination', 'no_route');
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
      http ? serveOutboundL7(ctx, client, key, orig.port) : outboundL4(ctx, client, orig, conn),
    );
  if (routed) return serveOutboundL7(ctx, client, key, orig.port);
  outboundL4(ctx, client, orig, conn);
}

/** The L4 path: one upstream connection for the client's, bytes as they are. */
function outboundL4(
  ctx: OutboundContext,
  client: Socket,
  orig: { ip: string; port: number },
  conn: Connection,
): void {
  let host = orig.ip;
  let port = orig.port;
  const tables = ctx.tables();
  const key = vipKey(orig.ip, orig.port);
  const svc = tables.services.get(key);
  // Egress policy applies to the pods behind a VIP: only the allowed ones are picked.
  const allowed = svc ? allowedEndpoints(tables, ctx.workloadKey, key, svc) : undefined;
  const ep =
    svc && allowed
      ? pickEndpoint(ctx.pools, tables, svc, allowed, orig.port, conn, (e) => onNode(ctx, e.ip))
      : undefined;
  if (ep) {
    host = ep.ip;
    port = ep.port;
  }
  const peer = tables.peers.get(host);
  // The address the connection would have left from without the mesh.
  const srcIP = sameFamily(ctx.podIPs, host) ?? ctx.podIP;
  conn.sourceAddress = srcIP;
  conn.destination = hostPort(host, port);
  conn.destinationWorkload = peer?.key ?? null;
  if (svc) conn.service = svc.service;
  if (peer) conn.destinationPrincipal = peer.identity;
  const refuse = (detail: string, flag: Parameters<Connection['refuse']>[1] = 'policy') => {
    conn.refuse(detail, flag);
    client.resetAndDestroy();
  };
  if (svc && !ep)
    return svc.endpoints.length === 0
      ? refuse(`service ${svc.service} has no endpoints`, 'no_healthy_upstream')
      : refuse(`denied by egress NetworkPolicy: no endpoint of service ${svc.service} is allowed`);
  const egress = egressVerdict(tables.decisions, tables.policy, ctx.workloadKey, host, port);
  if (!egress.allow) return refuse(denial(egress));
  conn.admission = { workload: ctx.workloadKey, peerIp: host, port, l7: false };
  const local = peer ? ctx.local(peer.key) : undefined;
  if (local) {
    // Same node: this process is also the destination's proxy, so its inbound pipeline runs here.
    conn.via = 'local';
    const src = { ip: srcIP, ...(ctx.identity ? (ctx.peer ?? { identity: ctx.identity }) : {}) };
    const inbound = () => {
      const c = new Connection(
        local.sinks,
        'inbound',
        'local',
        ctx.identity,
        srcIP,
        conn.destination,
        local.key,
      );
      c.sourceWorkload = ctx.workloadKey;
      c.destinationPrincipal = local.identity;
      c.service = conn.service;
      return c;
    };
    return admitInbound(
      {
        policy: tables.policy,
        decisions: tables.decisions.ingress.get(local.key),
        workloadKey: local.key,
        netnsPath: local.netnsPath,
        pool: ctx.pool,
        inboundL7: local.inboundL7,
        src,
        ip: host,
        port,
      },
      {
        // AUDIT matches are recorded whatever the verdict, once per connection (on its inbound side).
        refuse: (detail, status, audit) => {
          if (status === 403 && audit) conn.audit = audit;
          refuse(detail, status === 403 ? 'policy' : 'upstream_connect_failure');
        },
        http: (audit) => {
          const c = inbound();
          c.audit = audit;
          c.admission = {
            workload: local.key,
            peerIp: srcIP,
            ...(ctx.identity ? { peerIdentity: ctx.identity } : {}),
            port,
            l7: true,
          };
          // The outbound side's record carries this connection; requests log on the inbound one.
          conn.logEnd = false;
          conn.joined(() => client.destroy());
          client.once('close', () => conn.end(false, { fromClient: 0, toClient: 0 }));
          return { conn: c, client };
        },
        join: (app, audit) => {
          const c = inbound();
          c.audit = audit;
          c.admission = {
            workload: local.key,
            peerIp: srcIP,
            ...(ctx.identity ? { peerIdentity: ctx.identity } : {}),
            port,
            l7: false,
          };
          const carried = joinSockets(
            client,
            app,
            null,
            (reset, counts) => {
              conn.end(reset, counts);
              c.end(reset, counts);
            },
            () => {
              conn.movedAway();
              c.movedAway();
            },
            conn.sinks.stats,
          );
          const abort = () => carried.abort();
          conn.joined(abort);
          c.joined(abort);
        },
      },
    );
  }
  if (peer && ctx.identity && ctx.hbone) return tunnel(ctx, client, conn, peer, srcIP, host, port);
  plaintext(ctx, client, conn, host, port);
}

/**
 * Another node: HTTP/2 CONNECT over mutual TLS to the destination pod's 15008. The app's
 * first chunk goes with the request rather than after the answer (the server holds it until
 * it has dialled the app): a new connection's first exchange waits one hop between the
 * agents less. The chunk is kept until the answer, to open the stream again with it.
 */
function tunnel(
  ctx: OutboundContext,
  client: Socket,
  conn: Connection,
  peer: MeshPeer,
  srcIP: string,
  host: string,
  port: number,
  retried = false,
  sent: { first: Buffer | null; ended: boolean } = { first: null, ended: false },
): void {
  conn.via = 'hbone';
  const refuse = (detail: string, flag: Parameters<Connection['refuse']>[1]) => {
    conn.refuse(detail, flag);
    client.resetAndDestroy();
  };
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
    return refuse((e as Error).message, 'tls');
  }
  if (!stream) return refuse(`no certificate yet for ${ctx.identity}`, 'tls');
  const s = stream;
  // Until the tunnel is up, a client that goes away takes the stream with it, and the
  // other way round; join() takes over both once it is.
  const clientGone = () => {
    if (!s.closed) resetClientStream(s);
  };
  // What went ahead of the answer; an end that came first (nothing sent) is passed on too.
  const ahead = { ...sent };
  const early = (chunk: Buffer) => {
    // Paused after one chunk: the rest waits for join(). An end read with it still comes
    // (Node emits it once the last chunk is out, paused or not), and goes ahead too.
    client.pause();
    ahead.first = chunk;
    s.write(chunk);
  };
  const endedEarly = () => {
    client.off('data', early);
    ahead.ended = true;
    s.end();
  };
  if (ahead.first) s.write(ahead.first);
  if (ahead.ended) s.end();
  else {
    if (!ahead.first) client.once('data', early);
    client.once('end', endedEarly);
  }
  const quiet = () => {
    client.off('data', early);
    client.off('end', endedEarly);
  };
  client.on('error', () => {});
  client.once('close', clientGone);
  let answered = false;
  // A stream the peer refused unprocessed (REFUSED_STREAM: it raced the GOAWAY of an
  // agent handing over) is safe to open again, once, on a fresh session.
  const again = () =>
    !answered && !retried && !client.destroyed && s.rstCode === h2.NGHTTP2_REFUSED_STREAM;
  const tunnelGone = () => {
    if (again()) {
      client.off('close', clientGone);
      quiet();
      return tunnel(ctx, client, conn, peer, srcIP, host, port, true, ahead);
    }
    // The session failed (peer unreachable, handshake refused) before any answer.
    if (!answered) refuse('HBONE tunnel could not be opened', 'tls');
  };
  s.on('error', () => {
    if (!client.destroyed && !again()) client.resetAndDestroy();
  });
  s.once('close', tunnelGone);
  s.once('response', (headers) => {
    answered = true;
    client.off('close', clientGone);
    quiet();
    const status = headers[':status'];
    if (status !== 200) {
      s.close();
      return refuse(`HBONE CONNECT answered ${status}`, status === 403 ? 'policy' : 'tls');
    }
    if (client.destroyed) return void resetClientStream(s);
    const joined = join(
      client,
      s,
      null,
      resetSocket,
      resetClientStream,
      (reset, c) => conn.end(reset, c),
      { fromClient: ahead.first?.length ?? 0, clientEnded: ahead.ended },
    );
    if (ahead.first) client.resume();
    conn.joined(() => joined.abort());
  });
}

/** Outside the mesh, or a node without identities: the bytes as they are. */
function plaintext(
  ctx: OutboundContext,
  client: Socket,
  conn: Connection,
  host: string,
  port: number,
): void {
  let upstream: Socket;
  try {
    upstream = dialFromNetns(ctx.pool, ctx.netnsPath, host, port, undefined, true);
  } catch (e) {
    conn.refuse((e as Error).message, 'upstream_connect_failure');
    client.resetAndDestroy();
    return;
  }
  const carried = joinSockets(
    client,
    upstream,
    null,
    (reset, c) => conn.end(reset, c),
    () => conn.movedAway(),
    conn.sinks.stats,
  );
  conn.joined(() => carried.abort());
}
