// The HBONE client: HTTP/2 CONNECT over mutual TLS 1.3 to dstPodIP:15008,
// made from the source pod's netns (so the source address is the pod's).
// Connections are pooled per (source identity, destination address) and
// carry many streams; the server must prove the destination's identity.
import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  constants as h2,
  connect as h2connect,
} from 'node:http2';
import { Socket } from 'node:net';
import { type SecureContext, connect as tlsConnect } from 'node:tls';
import type { Reset } from '../pipe.ts';
import type { SocketPool } from '../socket-pool.ts';
import { H2_SESSION_WINDOW, H2_SETTINGS, HBONE_ALPN, peerSpiffeId } from './tls.ts';

export const resetClientStream: Reset = (d) => {
  (d as ClientHttp2Stream).close(h2.NGHTTP2_CANCEL);
};

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

export class HbonePool {
  private readonly sessions = new Map<string, ClientHttp2Session>();
  private readonly pool: SocketPool;
  private readonly context: (identity: string) => SecureContext | undefined;

  constructor(pool: SocketPool, context: (identity: string) => SecureContext | undefined) {
    this.pool = pool;
    this.context = context;
  }

  private session(t: HboneTarget): ClientHttp2Session | undefined {
    const key = `${t.srcIdentity}|${t.dstIp}|${t.dstIdentity}`;
    const have = this.sessions.get(key);
    if (have && !have.closed && !have.destroyed) return have;
    const secureContext = this.context(t.srcIdentity);
    if (!secureContext) return undefined;
    const session = h2connect(`https://${t.dstIp}:15008`, {
      settings: H2_SETTINGS,
      createConnection: () => {
        const fd = this.pool.take(t.srcNetns, t.dstIp.includes(':') ? 6 : 4);
        const raw = new Socket({ fd, readable: true, writable: true });
        raw.setNoDelay(true);
        raw.connect(15008, t.dstIp);
        return tlsConnect({
          socket: raw,
          secureContext,
          ALPNProtocols: HBONE_ALPN,
          minVersion: 'TLSv1.3',
          maxVersion: 'TLSv1.3',
          checkServerIdentity: (_host, cert) =>
            peerSpiffeId(cert) === t.dstIdentity
              ? undefined
              : new Error(
                  `server is ${peerSpiffeId(cert) ?? 'not a SPIFFE identity'}, expected ${t.dstIdentity}`,
                ),
        });
      },
    });
    session.on('error', () => {});
    session.once('connect', () => session.setLocalWindowSize(H2_SESSION_WINDOW));
    session.on('close', () => {
      if (this.sessions.get(key) === session) this.sessions.delete(key);
    });
    this.sessions.set(key, session);
    return session;
  }

  /** A CONNECT stream to the target, or undefined when the source has no certificate yet. */
  open(t: HboneTarget): ClientHttp2Stream | undefined {
    const s = this.session(t);
    if (!s) return undefined;
    return s.request(
      { ':method': 'CONNECT', ':authority': t.authority, forwarded: `for="${t.srcAddress}"` },
      { endStream: false },
    );
  }

  size(): number {
    return this.sessions.size;
  }

  close(): void {
    for (const s of this.sessions.values()) s.destroy();
    this.sessions.clear();
  }
}
