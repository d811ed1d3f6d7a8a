// The HBONE server of one enrolled pod: HTTP/2 over mutual TLS 1.3 on
// podIP:15008 inside the pod's netns. It accepts only CONNECT to this pod's
// own address, from a peer whose certificate chains to the trust bundle and
// carries a SPIFFE ID of our trust domain, then connects to the app from
// 127.0.0.6 and joins the stream to it.
import { type Http2SecureServer, constants as h2, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { PolicyTables } from '../../compile/policy.ts';
import { native } from '../../datapath/native.ts';
import type { AccessEntry, AccessLog } from '../access-log.ts';
import { checkIngress, checkRequest, denial, needsHttp } from '../authorize.ts';
import { contain, type ErrorReport } from '../contain.ts';
import { dialFromNetns, INBOUND_SOURCE } from '../forward.ts';
import { serveHttp } from '../http.ts';
import { join, type Reset } from '../pipe.ts';
import type { SocketPool } from '../socket-pool.ts';
import type { DirectionStats } from '../stats.ts';
import type { Keepalive } from './keepalive.ts';
import { createHboneServer } from './session.ts';
import { peerSpiffeId, serverOptions, type TlsMaterial } from './tls.ts';

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
  readonly podIP: string;
  readonly trustDomain: string;
  readonly stats: DirectionStats;
  readonly pool: SocketPool;
  readonly log: AccessLog;
  /** Where an exception of handleConnect goes (contain.ts). */
  readonly report: ErrorReport;
  /** PINGs that find a peer gone (keepalive.ts). */
  readonly keepalive: Keepalive;
  policy(): PolicyTables;
}

function parseAuthority(a: string | undefined): { ip: string; port: number } | undefined {
  if (!a) return undefined;
  const m = /^\[?([0-9a-fA-F:.]+)\]?:(\d{1,5})$/.exec(a);
  if (!m) return undefined;
  const port = Number(m[2]);
  return port > 0 && port < 65536 ? { ip: m[1]!, port } : undefined;
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
  const stats = ctx.stats;
  stats.accepted++;
  const tlsSocket = stream.session?.socket as TLSSocket | undefined;
  const source = peerSpiffeId(tlsSocket?.getPeerCertificate());
  const target = parseAuthority(headers[':authority'] as string | undefined);
  const entry: { audit?: string } & Omit<
    AccessEntry,
    'time' | 'bytesFromClient' | 'bytesToClient' | 'result' | 'detail' | 'audit'
  > = {
    direction: 'inbound' as const,
    via: 'hbone' as const,
    source: source ?? null,
    sourceAddress: tlsSocket?.remoteAddress ?? null,
    destination: String(headers[':authority'] ?? ''),
    destinationWorkload: ctx.workloadKey,
  };
  const deny = (status: number, detail: string) => {
    stats.failed++;
    ctx.log.add({ ...entry, bytesFromClient: 0, bytesToClient: 0, result: 'refused', detail });
    refuse(stream, status);
  };
  if (headers[':method'] !== 'CONNECT') {
    deny(405, 'not a CONNECT request');
    return;
  }
  if (!source?.startsWith(`spiffe://${ctx.trustDomain}/`)) {
    deny(403, 'peer has no SPIFFE ID of this trust domain');
    return;
  }
  if (!target || target.ip !== ctx.podIP) {
    deny(404, `unknown target ${entry.destination}`);
    return;
  }
  // The client pod's address, from the peer proxy we just authenticated.
  const fwd = /for="?\[?([0-9a-fA-F:.]+)\]?"?/.exec(String(headers.forwarded ?? ''))?.[1];
  const policy = ctx.policy();
  const peerSrc = { ip: fwd ?? tlsSocket?.remoteAddress ?? '', identity: source };
  const l7 = needsHttp(policy, ctx.workloadKey, target.port);
  const v = checkIngress(
    policy,
    ctx.workloadKey,
    peerSrc,
    target.port,
    l7 ? 'per-request' : undefined,
  );
  // AUDIT matches are recorded whatever the verdict.
  if (v.audited) entry.audit = v.audited.join(', ');
  if (!v.allow) {
    deny(403, denial(v));
    return;
  }
  if (l7) {
    stream.respond({ ':status': 200 });
    serveHttp(
      {
        netnsPath: ctx.netnsPath,
        ip: target.ip,
        port: target.port,
        pool: ctx.pool,
        stats,
        log: ctx.log,
        entry: { ...entry, via: 'hbone' },
        authorize: (req) => checkRequest(policy, ctx.workloadKey, peerSrc, target.port, req),
      },
      stream,
    );
    return;
  }
  let app: Socket;
  try {
    app = dialFromNetns(ctx.pool, ctx.netnsPath, target.ip, target.port, INBOUND_SOURCE);
  } catch (e) {
    deny(503, (e as Error).message);
    return;
  }
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
    stats.active++;
    join(stream, app, stats, resetStream, undefined, (reset, c) => {
      ctx.log.add({
        ...entry,
        bytesFromClient: c.fromClient,
        bytesToClient: c.toClient,
        result: reset ? 'reset' : 'ok',
      });
    });
  });
}

export class HboneServer {
  private readonly server: Http2SecureServer;

  private constructor(server: Http2SecureServer) {
    this.server = server;
  }

  static async open(
    ctx: HboneServerContext,
    material: TlsMaterial,
    port: number,
  ): Promise<HboneServer> {
    const fd = native().netnsSocket(ctx.netnsPath, {
      address: ctx.podIP,
      port,
      backlog: 1024,
      reuseAddr: true,
    });
    try {
      return await HboneServer.serve(ctx, material, fd);
    } catch (e) {
      native().closeFd(fd);
      throw e;
    }
  }

  private static async serve(
    ctx: HboneServerContext,
    material: TlsMaterial,
    fd: number,
  ): Promise<HboneServer> {
    const server = createHboneServer(material, ctx.keepalive);
    server.on('stream', (stream, headers) =>
      contain(
        ctx.stats,
        ctx.report,
        () => resetStream(stream),
        () => handleConnect(ctx, stream, headers),
      ),
    );
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ fd, backlog: 4096 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new HboneServer(server);
  }

  /** New certificate or trust bundle: new handshakes use it, established sessions carry on. */
  update(material: TlsMaterial): void {
    this.server.setSecureContext(serverOptions(material));
  }

  close(): void {
    this.server.close();
  }
}
