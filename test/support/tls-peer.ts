// A TLS client made inside a pod's netns, for probing an HBONE server with
// certificates of our choosing.
import { connect as h2connect } from 'node:http2';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { connectInNetns } from '../../agent/src/datapath/netns.ts';

export interface ProbeResult {
  /** 'handshake' failed, or the HTTP/2 status the server answered. */
  outcome: 'handshake-failed' | number;
  detail?: string;
}

/** Handshakes with host:15008 from netnsPath with key/cert, then sends one request. */
export function probeHbone(
  netnsPath: string,
  host: string,
  creds: { key?: string; cert?: string; ca: string[] },
  request: Record<string, string>,
): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const raw = connectInNetns(netnsPath, { host, port: 15008 });
    const tls: TLSSocket = tlsConnect({
      socket: raw,
      ...creds,
      ALPNProtocols: ['h2'],
      minVersion: 'TLSv1.2',
      checkServerIdentity: () => undefined,
    });
    let settled = false;
    const done = (r: ProbeResult) => {
      if (settled) return;
      settled = true;
      tls.destroy();
      resolve(r);
    };
    tls.on('error', (e) => done({ outcome: 'handshake-failed', detail: e.message }));
    tls.on('close', () => done({ outcome: 'handshake-failed', detail: 'closed' }));
    tls.once('secureConnect', () => {
      const session = h2connect(`https://${host}:15008`, { createConnection: () => tls });
      session.on('error', (e) => done({ outcome: 'handshake-failed', detail: e.message }));
      const req = session.request(request, { endStream: request[':method'] !== 'CONNECT' });
      req.on('response', (h) => {
        done({ outcome: Number(h[':status']) });
        session.destroy();
      });
      req.on('error', (e) => done({ outcome: 'handshake-failed', detail: e.message }));
    });
  });
}
