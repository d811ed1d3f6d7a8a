// The HBONE server of one enrolled pod: HTTP/2 over mutual TLS 1.3 on
// podIP:15008 inside the pod's netns. It accepts only CONNECT to this pod's
// own address, from a peer whose certificate chains to the trust bundle and
// carries a SPIFFE ID of our trust domain, then connects to the app from
// 127.0.0.6 (::1 for an IPv6 address of the pod) and joins the stream to it.
import {
  type Http2SecureServer,
  type Http2Session,
  constants as h2,
  type ServerHttp2Stream,
} from 'node:http2';
import { createServer, type Server, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { native } from '../../datapath/index.ts';
import type { InboundL7 } from '../../l7/index.ts';
import type { IngressDecisions, PolicyTables } from '../../tables/index.ts';
import { Connection, type ConnectionSinks } from '../../telemetry/index.ts';
import { admitInbound } from '../admit.ts';
import { contain, type ErrorReport } from '../contain.ts';
import { join, type Reset } from '../pipe.ts';
import type { SocketPool } from '../socket-pool.ts';
import { checkConnect } from './front.ts';
import type { Keepalive } from './keepalive.ts';
import type { HboneGuard } from './limits.ts';
import { createHboneServer } from './session.ts';
import { serverOptions, sessionPeer, type TlsMaterial } from './tls.ts';

/**
 * A TCP reset becomes RST_STREAM alone. (close(code) would send END_STREAM
 * first, which the peer reads as a clean end; destroy() does not, at the cost
 * of the code being INTERNAL_ERROR rather than RFC 9113's CONNECT_ERROR.)
 */
export const resetStream: Reset = (d) => {
  d.destroy(new Error('peer connection reset'));
};

export interface HboneServerContext {
  readonly workloadKey: string;
  readonly netnsPath: string;
  /** Where this server listens (status.podIP). */
  readonly podIP: string;
  /** Every address of the pod (dual stack): a CONNECT may name any of them. Absent: podIP alone. */
  readonly podIPs?: readonly string[];
  readonly trustDomain: string;
  readonly sinks: ConnectionSinks;
  readonly pool: SocketPool;
  /** The node proxy's destination side of the L7 engine. */
  readonly inboundL7: InboundL7;
  /** This pod's SPIFFE ID. */
  readonly identity: string | null;
  /** Where an exception of handleConnect goes (contain.ts). */
  readonly report: ErrorReport;
  /** PINGs that find a peer gone (keepalive.ts). */
  readonly keepalive: Keepalive;
  /** The agent's bounds on handshakes and streams (limits.ts). */
  readonly guard: HboneGuard;
  /** A peer claimed a client address not of its identity: counted and logged, rate-limited. */
  spoofed(detail: string): void;
  policy(): PolicyTables;
  /** This workload's decision table (absent: the evaluators decide, see admit.ts). */
  decisions?(): IngressDecisions | undefined;
}

function refuse(stream: ServerHttp2Stream, status: number): void {
  if (stream.destroyed || stream.closed) return;
  if (!stream.headersSent) stream.respond({ ':status': status }, { endStream: true });
  else stream.close(h2.NGHTTP2_REFUSED_STREAM);
}

export function handleConnect(
  ctx: HboneServerContext,
  stream: ServerHttp2Stream,
  headers: Record<string, unknown>,
): void {
  const tlsSocket = stream.session?.socket as TLSSocket | undefined;
  const peer = sessionPeer(tlsSocket);
  const source = peer?.identity;
  const policy = ctx.policy();
  const front = checkConnect(
    headers,
    { id: source, address: tlsSocket?.remoteAddress },
    {
      podIP: ctx.podIP,
      ...(ctx.podIPs ? { podIPs: ctx.podIPs } : {}),
      trustDomain: ctx.trustDomain,
      podsByIP: policy.podsByIP,
    },
  );
  const conn = new Connection(
    ctx.sinks,
    'inbound',
    'hbone',
    source ?? null,
    front.ok ? front.sourceIp : (tlsSocket?.remoteAddress ?? null),
    String(headers[':authority'] ?? ''),
    ctx.workloadKey,
  );
  conn.destinationPrincipal = ctx.identity;
  const deny = (status: number, detail: string) => {
    conn.refuse(
      detail,
      status === 403 ? 'policy' : status === 503 ? 'upstream_connect_failure' : 'no_route',
    );
    refuse(stream, status);
  };
  if (!front.ok) {
    if (front.spoofed) ctx.spoofed(`${ctx.workloadKey}: ${front.detail}`);
    deny(front.status, front.detail);
    return;
  }
  const src = policy.podsByIP.get(front.sourceIp);
  if (src) conn.sourceWorkload = `${src.namespace}/${src.name}`;
  const admission = {
    workload: ctx.workloadKey,
    peerIp: front.sourceIp,
    ...(source ? { peerIdentity: source } : {}),
    port: front.port,
  };
  admitInbound(
    {
      policy,
      decisions: ctx.decisions?.(),
      workloadKey: ctx.workloadKey,
      netnsPath: ctx.netnsPath,
      pool: ctx.pool,
      inboundL7: ctx.inboundL7,
      src: { ip: front.sourceIp, ...peer },
      ip: front.ip,
      port: front.port,
    },
    {
      // AUDIT matches are recorded whatever the verdict.
      refuse: (detail, status, audit) => {
        conn.audit = audit;
        deny(status, detail);
      },
      http: (audit) => {
        conn.audit = audit;
        conn.admission = { ...admission, l7: true };
        stream.respond({ ':status': 200 });
        return { conn, client: stream };
      },
      join: (app, audit) => {
        conn.audit = audit;
        conn.admission = { ...admission, l7: false };
        // The peer may reset the stream (or lose its connection) while the app dial is pending.
        const gone = () => {
          if (app.connecting) app.destroy();
        };
        stream.on('error', gone);
        stream.once('close', gone);
        app.once('error', () => {
          if (!stream.headersSent) deny(503, 'the app refused the connection');
        });
        app.once('connect', () => {
          stream.off('close', gone);
          if (stream.destroyed || stream.closed) {
            app.destroy();
            return;
          }
          stream.respond({ ':status': 200 });
          const joined = join(stream, app, null, resetStream, undefined, (reset, c) =>
            conn.end(reset, c),
          );
          conn.joined(() => joined.abort());
        });
      },
    },
  );
}

export class HboneServer {
  private readonly front: Server;
  private readonly server: Http2SecureServer;
  /** The listening fd (for a handover) and the sessions it serves (drained at one). */
  readonly fd: number;
  private readonly sessions = new Set<Http2Session>();
  private draining = false;

  /** What the TLS context was last built from. */
  private material: TlsMaterial;

  private constructor(front: Server, server: Http2SecureServer, fd: number, material: TlsMaterial) {
    this.front = front;
    this.server = server;
    this.fd = fd;
    this.material = material;
    server.on('session', (s: Http2Session) => {
      // A handshake that began before the drain ends in a session no one should use.
      if (this.draining) s.close();
      this.sessions.add(s);
      s.once('close', () => this.sessions.delete(s));
    });
  }

  /** Opens on podIP:port in the pod's netns, or serves `inherited` (a handed-over listener). */
  static async open(
    ctx: HboneServerContext,
    material: TlsMaterial,
    port: number,
    inherited?: number,
    gate?: { when(fn: () => void): void },
  ): Promise<HboneServer> {
    const fd =
      inherited ??
      native().netnsSocket(ctx.netnsPath, {
        address: ctx.podIP,
        port,
        backlog: 1024,
        reuseAddr: true,
      });
    try {
      return await HboneServer.serve(ctx, material, fd, inherited === undefined ? undefined : gate);
    } catch (e) {
      native().closeFd(fd);
      throw e;
    }
  }

  private static async serve(
    ctx: HboneServerContext,
    material: TlsMaterial,
    fd: number,
    gate?: { when(fn: () => void): void },
  ): Promise<HboneServer> {
    const guard = ctx.guard;
    const server = createHboneServer(material, ctx.keepalive, guard.limits);
    server.on('stream', (stream, headers) => {
      // Refused before any work: the agent holds as many streams as its memory allows.
      const done = guard.stream();
      if (!done) {
        stream.on('error', () => {}); // its own REFUSED_STREAM comes back as an error
        stream.close(h2.NGHTTP2_REFUSED_STREAM);
        return;
      }
      stream.once('close', done);
      contain(
        ctx.sinks.stats,
        ctx.report,
        () => resetStream(stream),
        () => handleConnect(ctx, stream, headers),
      );
    });
    // Connections are accepted here, bounded, and only then handed to TLS: the TLS
    // server never listens itself. Pending until the handshake ends, by peer address+port.
    const pending = new Map<string, () => void>();
    const keyOf = (s: Socket) => `${s.remoteAddress}|${s.remotePort}`;
    server.on('secureConnection', (tls: TLSSocket) => {
      const key = keyOf(tls);
      pending.get(key)?.();
      pending.delete(key);
    });
    server.on('tlsClientError', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') guard.counters.handshakeTimeouts++;
    });
    const front = createServer({ noDelay: true }, (raw) => {
      const handshook = guard.admit(raw);
      if (!handshook) {
        raw.resetAndDestroy();
        return;
      }
      const key = keyOf(raw);
      pending.set(key, handshook);
      raw.once('close', () => {
        if (pending.get(key) === handshook) pending.delete(key);
      });
      server.emit('connection', raw);
    });
    front.on('error', () => {}); // accept errors (EMFILE) leave the listener open
    if (gate) {
      // A handed-over socket: accepted from once the agent serves in full.
      gate.when(() => front.listen({ fd, backlog: 4096 }));
      return new HboneServer(front, server, fd, material);
    }
    await new Promise<void>((resolve, reject) => {
      front.once('error', reject);
      front.listen({ fd, backlog: 4096 }, () => {
        front.off('error', reject);
        resolve();
      });
    });
    return new HboneServer(front, server, fd, material);
  }

  /**
   * New certificate or trust bundle: new handshakes use it, established sessions carry on.
   * The same material again (every server is asked when any identity renews) builds no new
   * TLS context (~44 KiB each); returns whether it did. The identity manager replaces the
   * bundle's array only when the bundle changes, so the array is compared.
   */
  update(material: TlsMaterial): boolean {
    const m = this.material;
    if (
      m.keyPem === material.keyPem &&
      m.certChainPem === material.certChainPem &&
      m.roots === material.roots
    )
      return false;
    this.server.setSecureContext(serverOptions(material));
    this.material = material;
    return true;
  }

  close(): void {
    this.front.close();
    this.server.close();
  }

  /**
   * Stops accepting and sends each session GOAWAY (its last stream id): peers open new
   * sessions (to the agent that took over) for new streams; open streams run to their end.
   */
  drain(): void {
    this.draining = true;
    this.close();
    for (const s of this.sessions) s.close();
  }

  /** Sessions still open. */
  openSessions(): number {
    return this.sessions.size;
  }
}
