// The HBONE client: HTTP/2 CONNECT over mutual TLS 1.3 to dstPodIP:15008,
// made from the source pod's netns (so the source address is the pod's).
// Connections are pooled per (source identity, destination address) and
// carry many streams; the server must prove the destination's identity.
import type { ClientHttp2Session, ClientHttp2Stream } from 'node:http2';
import { Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import { constants } from '../../tables/index.ts';
import type { Reset } from '../pipe.ts';
import type { SocketPool } from '../socket-pool.ts';
import { DEFAULT_KEEPALIVE, type Keepalive } from './keepalive.ts';
import { connectHbone } from './session.ts';
import { H2_SETTINGS, peerSpiffeId } from './tls.ts';

/**
 * A TCP reset becomes RST_STREAM alone. (close(code) would send END_STREAM
 * first, which the peer reads as a clean end; destroy() does not, at the cost
 * of the code being INTERNAL_ERROR rather than RFC 9113's CONNECT_ERROR.)
 */
export const resetClientStream: Reset = (d) => {
  d.destroy(new Error('peer connection reset'));
};

/** Streams a session may carry at once: the server's SETTINGS, never more than ours. */
function streamCap(s: ClientHttp2Session): number {
  const theirs = s.remoteSettings?.maxConcurrentStreams ?? Number.POSITIVE_INFINITY;
  return Math.min(H2_SETTINGS.maxConcurrentStreams, theirs);
}

export interface HboneTarget {
  srcNetns: string;
  srcIdentity: string;
  srcAddress: string;
  dstIp: string;
  dstIdentity: string;
  port: number;
  /** ip:port the app asked for. */
  authority: string;
}

interface PooledSession {
  session: ClientHttp2Session;
  ctx: SecureContext;
  netns: string;
  /** Streams open on it. */
  streams: number;
  /** Out of the pool (an older certificate): closes once its last stream ends. */
  retired: boolean;
}

export class HbonePool {
  private readonly sessions = new Map<string, PooledSession>();
  private readonly pool: SocketPool;
  private readonly context: (identity: string) => SecureContext | undefined;
  private readonly keepalive: Keepalive;

  constructor(
    pool: SocketPool,
    context: (identity: string) => SecureContext | undefined,
    keepalive: Keepalive = DEFAULT_KEEPALIVE,
  ) {
    this.pool = pool;
    this.context = context;
    this.keepalive = keepalive;
  }

  /**
   * A live session for the target, made from the source pod's own netns with the
   * source's current certificate. A session made with an older certificate or
   * bundle, or one holding as many streams as its server allows, is retired: new
   * streams go to a fresh session (rather than wait in Node's queue for a free one), and
   * it stays open (and pinged: Node cancels PINGs on a closing session) until its own
   * streams end.
   */
  private session(t: HboneTarget): PooledSession | undefined {
    const key = `${t.srcNetns}|${t.srcIdentity}|${t.dstIp}|${t.dstIdentity}`;
    const secureContext = this.context(t.srcIdentity);
    if (!secureContext) return undefined;
    const have = this.sessions.get(key);
    if (have && !have.session.closed && !have.session.destroyed) {
      if (have.ctx === secureContext && have.streams < streamCap(have.session)) return have;
      this.sessions.delete(key);
      have.retired = true;
      if (have.streams === 0) have.session.close();
    }
    const session = connectHbone(
      t.dstIp.includes(':')
        ? `https://[${t.dstIp}]:${constants.PORT_HBONE}`
        : `https://${t.dstIp}:${constants.PORT_HBONE}`,
      () => {
        const fd = this.pool.take(t.srcNetns, t.dstIp.includes(':') ? 6 : 4);
        // TCP_NODELAY comes with the pool's socket.
        const raw = new Socket({ fd, readable: true, writable: true });
        raw.connect(constants.PORT_HBONE, t.dstIp);
        return {
          socket: raw,
          secureContext,
          checkServerIdentity: (_host, cert) =>
            peerSpiffeId(cert) === t.dstIdentity
              ? undefined
              : new Error(
                  `server is ${peerSpiffeId(cert) ?? 'not a SPIFFE identity'}, expected ${t.dstIdentity}`,
                ),
        };
      },
      this.keepalive,
    );
    const entry: PooledSession = {
      session,
      ctx: secureContext,
      netns: t.srcNetns,
      streams: 0,
      retired: false,
    };
    session.on('close', () => {
      if (this.sessions.get(key) === entry) this.sessions.delete(key);
    });
    this.sessions.set(key, entry);
    return entry;
  }

  /** Closes the sessions made from a netns whose pod left the mesh. */
  dropNetns(netns: string): void {
    for (const [key, e] of this.sessions) {
      if (e.netns !== netns) continue;
      e.session.close();
      this.sessions.delete(key);
    }
  }

  /** A CONNECT stream to the target, or undefined when the source has no certificate yet. */
  open(t: HboneTarget): ClientHttp2Stream | undefined {
    const e = this.session(t);
    if (!e) return undefined;
    const stream = e.session.request(
      {
        ':method': 'CONNECT',
        ':authority': t.authority,
        // RFC 7239 brackets an IPv6 node.
        forwarded: t.srcAddress.includes(':') ? `for="[${t.srcAddress}]"` : `for="${t.srcAddress}"`,
      },
      { endStream: false },
    );
    e.streams++;
    stream.once('close', () => {
      if (--e.streams === 0 && e.retired) e.session.close();
    });
    return stream;
  }

  size(): number {
    return this.sessions.size;
  }

  /**
   * Handing over: no new streams from here; each session closes after its last stream.
   * One still connecting keeps its queued streams (close() now would fail them).
   */
  drain(): void {
    for (const e of this.sessions.values()) {
      e.retired = true;
      if (e.streams === 0 && !e.session.connecting) e.session.close();
    }
    this.sessions.clear();
  }

  close(): void {
    for (const e of this.sessions.values()) e.session.destroy();
    this.sessions.clear();
  }
}
