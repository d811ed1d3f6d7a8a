// TLS settings both ends of HBONE share: TLS 1.3 only, mutual, ALPN h2, and
// peers identified by their SPIFFE ID (URI SAN), never by DNS names.
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { type PeerId, peerId } from '../../identity/index.ts';
import { DEFAULT_HBONE_LIMITS } from './limits.ts';

export const HBONE_ALPN = ['h2'];

/** The SPIFFE ID in a verified peer certificate, or undefined. */
export function peerSpiffeId(cert: PeerCertificate | undefined): string | undefined {
  const san = cert?.subjectaltname;
  if (!san) return undefined;
  const uris = san
    .split(', ')
    .filter((s) => s.startsWith('URI:spiffe://'))
    .map((s) => s.slice(4));
  return uris.length === 1 ? uris[0] : undefined;
}

// A TLS 1.3 session's peer certificate never changes (no renegotiation), and an HBONE
// session carries many streams: its peer is read and parsed once, on the first stream.
const sessionPeers = new WeakMap<TLSSocket, PeerId | null>();

/** The verified peer of a TLS session, parsed once per session (so once per certificate presented). */
export function sessionPeer(socket: TLSSocket | undefined): PeerId | undefined {
  if (!socket) return undefined;
  let p = sessionPeers.get(socket);
  if (p === undefined) {
    const id = peerSpiffeId(socket.getPeerCertificate());
    p = id === undefined ? null : peerId(id);
    sessionPeers.set(socket, p);
  }
  return p ?? undefined;
}

export interface TlsMaterial {
  keyPem: string;
  certChainPem: string;
  roots: string[];
}

export function serverOptions(m: TlsMaterial) {
  return {
    key: m.keyPem,
    cert: m.certChainPem,
    ca: m.roots,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.3' as const,
    maxVersion: 'TLSv1.3' as const,
    ALPNProtocols: HBONE_ALPN,
  };
}

/**
 * HTTP/2 flow-control settings for tunnels. The protocol's defaults (a 64 KiB
 * window, 16 KiB frames) stall a bulk stream on every window update; a tunnel
 * carries whole TCP connections, so it gets TCP-sized windows.
 */
export const H2_SETTINGS = {
  initialWindowSize: 4 * 1024 * 1024,
  maxFrameSize: 256 * 1024,
  // Both ends announce a stream bound (limits.ts); a server's own may be set lower.
  maxConcurrentStreams: DEFAULT_HBONE_LIMITS.maxStreamsPerSession,
};
export const H2_SESSION_WINDOW = 32 * 1024 * 1024;
