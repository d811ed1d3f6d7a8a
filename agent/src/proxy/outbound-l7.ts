// The proxy's side of the L7 engine for an outbound connection: the client
// socket goes to the engine (l7/engine.ts) with what it needs of this source
// (tables, its egress view of each backend) and how upstream connections are
// made from it, the same three ways a connection leaves (outbound.ts): the
// same-node hand-off through the inbound pipeline, HBONE to a mesh pod
// elsewhere, plaintext to anything else. Routing and balancing are the engine's.

import type { Socket } from 'node:net';
import { type Duplex, duplexPair } from 'node:stream';
import type { PeerId } from '../identity/index.ts';
import type { InboundL7, L7Engine, L7Source, L7View } from '../l7/index.ts';
import { type Endpoint, hostPort, type ServiceTarget, sameFamily } from '../state/index.ts';
import { Connection, type ConnectionSinks } from '../telemetry/index.ts';
import { admitInbound } from './admit.ts';
import { denial } from './authorize.ts';
import { egressVerdict } from './decide.ts';
import { dialFromNetns } from './forward.ts';
import type { HbonePool } from './hbone/client.ts';
import type { SocketPool } from './socket-pool.ts';
import { allowedEndpoints, type ProxyTables } from './tables.ts';

/** What of an outbound context (outbound.ts) the L7 side reads. */
export interface OutboundL7Context {
  readonly workloadKey: string;
  readonly netnsPath: string;
  readonly podIP: string;
  readonly podIPs: readonly string[];
  readonly identity: string | null;
  /** The same, parsed once, as the destination's AuthorizationPolicy reads it on a same-node hand-off. */
  readonly peer?: PeerId;
  readonly sinks: ConnectionSinks;
  readonly pool: SocketPool;
  readonly hbone: HbonePool | null;
  readonly l7?: L7Engine;
  local(key: string):
    | {
        readonly key: string;
        readonly netnsPath: string;
        readonly sinks: ConnectionSinks;
        readonly inboundL7: InboundL7;
      }
    | undefined;
  tables(): ProxyTables;
}

export function serveOutboundL7(
  ctx: OutboundL7Context,
  client: Socket,
  vip: string,
  port: number,
): void {
  ctx.sinks.stats.active++;
  const src: L7Source = {
    workloadKey: ctx.workloadKey,
    namespace: ctx.workloadKey.slice(0, ctx.workloadKey.indexOf('/')),
    vip,
    port,
    mtls: ctx.identity !== null && ctx.hbone !== null,
    principal: ctx.identity,
    peerPrincipal: (ep) => peerPrincipal(ctx, ep),
    near: (ep) => onNode(ctx, ep.ip),
    view: () => ctx.tables(),
    allowed: (view: L7View, key: string, target: ServiceTarget) =>
      allowedEndpoints(view as ProxyTables, ctx.workloadKey, key, target),
    dial: (ep) => dial(ctx, ep),
    closed: () => {
      ctx.sinks.stats.active--;
    },
  };
  ctx.l7!.serve(client, src);
}

/** Whether a pod address is a mesh pod on this node (its proxy is this one): trafficDistribution's "close". */
export function onNode(ctx: Pick<OutboundL7Context, 'local' | 'tables'>, ip: string): boolean {
  const peer = ctx.tables().peers.get(ip);
  return peer !== undefined && ctx.local(peer.key) !== undefined;
}

/** The identity an upstream connection to `ep` proves (dial below), or undefined when it goes plaintext. */
function peerPrincipal(ctx: OutboundL7Context, ep: Endpoint): string | undefined {
  if (!ctx.identity) return undefined;
  const peer = ctx.tables().peers.get(ep.ip);
  if (!peer) return undefined;
  return ctx.local(peer.key) || ctx.hbone ? peer.identity : undefined;
}

/** One upstream connection from the source workload to an endpoint; throws when refused. */
function dial(ctx: OutboundL7Context, ep: Endpoint): Duplex {
  const tables = ctx.tables();
  const egress = egressVerdict(tables.decisions, tables.policy, ctx.workloadKey, ep.ip, ep.port);
  if (!egress.allow) throw new Error(denial(egress));
  const peer = tables.peers.get(ep.ip);
  const srcIP = sameFamily(ctx.podIPs, ep.ip) ?? ctx.podIP;
  const local = peer ? ctx.local(peer.key) : undefined;
  if (local) {
    // Same node: the destination's inbound pipeline runs here, once per upstream connection.
    let conn: Duplex | undefined;
    let refused = '';
    // The upstream connection's record on the destination's side, as a hand-off has it.
    const inbound = () => {
      const c = new Connection(
        local.sinks,
        'inbound',
        'local',
        ctx.identity,
        srcIP,
        hostPort(ep.ip, ep.port),
        local.key,
      );
      c.sourceWorkload = ctx.workloadKey;
      return c;
    };
    admitInbound(
      {
        policy: tables.policy,
        decisions: tables.decisions.ingress.get(local.key),
        workloadKey: local.key,
        netnsPath: local.netnsPath,
        pool: ctx.pool,
        inboundL7: local.inboundL7,
        src: { ip: srcIP, ...(ctx.identity ? (ctx.peer ?? { identity: ctx.identity }) : {}) },
        ip: ep.ip,
        port: ep.port,
      },
      {
        refuse: (detail) => {
          refused = detail;
        },
        http: () => {
          const [a, b] = duplexPair();
          conn = a;
          return { conn: inbound(), client: b };
        },
        join: (app) => {
          const c = inbound();
          conn = app;
          const s = app as { bytesRead?: number; bytesWritten?: number };
          app.once('close', () =>
            c.end(false, { fromClient: s.bytesWritten ?? 0, toClient: s.bytesRead ?? 0 }),
          );
        },
      },
    );
    if (!conn) throw new Error(refused || 'refused');
    return conn;
  }
  if (peer && ctx.identity && ctx.hbone) {
    const s = ctx.hbone.open({
      srcNetns: ctx.netnsPath,
      srcIdentity: ctx.identity,
      srcAddress: srcIP,
      dstIp: peer.ip,
      dstIdentity: peer.identity,
      port: ep.port,
      authority: hostPort(ep.ip, ep.port),
    });
    if (!s) throw new Error(`no certificate yet for ${ctx.identity}`);
    // Bytes written before the answer wait in the stream; a refusal fails whatever rode on it.
    s.once('response', (h) => {
      if (h[':status'] !== 200) s.destroy(new Error(`HBONE CONNECT answered ${h[':status']}`));
    });
    return s;
  }
  return dialFromNetns(ctx.pool, ctx.netnsPath, ep.ip, ep.port);
}
