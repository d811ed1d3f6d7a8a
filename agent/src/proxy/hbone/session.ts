// HTTP/2 over mutual TLS 1.3 as both ends of HBONE open it: the tunnel
// settings and windows, no Nagle delay, keepalive. One place for the proxy and
// for bench/hbone-cpu.ts, which measures exactly this.
import {
  type ClientHttp2Session,
  createSecureServer,
  type Http2SecureServer,
  connect as h2connect,
} from 'node:http2';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import { type Keepalive, keepAlive } from './keepalive.ts';
import { DEFAULT_HBONE_LIMITS, type HboneLimits } from './limits.ts';
import {
  H2_SESSION_WINDOW,
  H2_SETTINGS,
  HBONE_ALPN,
  serverOptions,
  type TlsMaterial,
} from './tls.ts';

/**
 * A client session to `url`; `tls` gives the connection's own options (socket,
 * credentials, server check) when the session dials. Errors end the session quietly:
 * its streams see them.
 */
export function connectHbone(
  url: string,
  tls: () => ConnectionOptions,
  keepalive: Keepalive,
): ClientHttp2Session {
  const session = h2connect(url, {
    settings: H2_SETTINGS,
    createConnection: () =>
      tlsConnect({
        ...tls(),
        ALPNProtocols: HBONE_ALPN,
        minVersion: 'TLSv1.3',
        maxVersion: 'TLSv1.3',
      }),
  });
  session.on('error', () => {});
  session.once('connect', () => session.setLocalWindowSize(H2_SESSION_WINDOW));
  keepAlive(session, keepalive);
  return session;
}

/**
 * An HBONE server, not yet listening and with no 'stream' handler. `limits` bounds the
 * TLS handshake's time and the streams a session may open (limits.ts).
 */
export function createHboneServer(
  material: TlsMaterial,
  keepalive: Keepalive,
  limits: Pick<HboneLimits, 'handshakeTimeoutMs' | 'maxStreamsPerSession'> = DEFAULT_HBONE_LIMITS,
): Http2SecureServer {
  const server = createSecureServer({
    ...serverOptions(material),
    allowHTTP1: false,
    handshakeTimeout: limits.handshakeTimeoutMs,
    settings: { ...H2_SETTINGS, maxConcurrentStreams: limits.maxStreamsPerSession },
  });
  server.on('session', (session) => {
    session.setLocalWindowSize(H2_SESSION_WINDOW);
    keepAlive(session, keepalive);
  });
  // Tunnels carry interactive traffic too: no Nagle delay on small frames.
  server.on('secureConnection', (socket) => socket.setNoDelay(true));
  // Handshake failures (plaintext, unknown CA, expired) end the connection; nothing to do.
  server.on('tlsClientError', () => {});
  server.on('sessionError', () => {});
  return server;
}
