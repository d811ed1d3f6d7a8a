// Interop: node:tls (OpenSSL) accepts the SVIDs this CA makes, for TLS 1.3 mutual auth.
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type CaFiles,
  CertificateAuthority,
  generateIntermediateCA,
  generateRootCA,
} from '../../../agent/src/identity/ca/ca.ts';
import { generateKeyAndCsr } from '../../../agent/src/identity/keys.ts';
import { spiffeId } from '../../../agent/src/identity/spiffe/spiffe.ts';

const TD = 'cluster.local';
const SERVER_ID = spiffeId(TD, 'default', 'server');
const CLIENT_ID = spiffeId(TD, 'default', 'client');

interface Identity {
  cert: string;
  key: string;
}

async function identity(ca: CertificateAuthority, id: string): Promise<Identity> {
  const { keyPem, csrPem } = await generateKeyAndCsr(id);
  const svid = await ca.signSvid(csrPem, id);
  return { cert: [svid.certPem, ...svid.chainPem].join(''), key: keyPem };
}

let root: CaFiles;
let server: Identity;
let client: Identity;
let stranger: Identity;
const cleanup: (() => void)[] = [];

beforeAll(async () => {
  root = await generateRootCA({ trustDomain: TD });
  const inter = await generateIntermediateCA(root, { trustDomain: TD });
  server = await identity(await CertificateAuthority.load(root), SERVER_ID);
  client = await identity(await CertificateAuthority.load(inter), CLIENT_ID);
  const otherRoot = await generateRootCA({ trustDomain: TD });
  stranger = await identity(await CertificateAuthority.load(otherRoot), CLIENT_ID);
});

afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});

interface Served {
  port: number;
  /** Peer SPIFFE URIs of handshakes the server completed. */
  accepted: string[];
  /** Why the server dropped a client: node's verify error code. */
  refused: (string | undefined)[];
}

async function serve(): Promise<Served> {
  const s: Served = { port: 0, accepted: [], refused: [] };
  const srv = tls.createServer(
    {
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      cert: server.cert,
      key: server.key,
      ca: root.certPem,
      requestCert: true,
      rejectUnauthorized: true,
    },
    (sock) => {
      s.accepted.push(sock.getPeerCertificate().subjectaltname ?? '');
      sock.end('hello');
    },
  );
  // Node checks the client chain after OpenSSL's handshake and then just closes the socket, so
  // the reason is on the socket, not in the error ("socket hang up").
  srv.on('tlsClientError', (_e, sock) => s.refused.push(sock.authorizationError?.toString()));
  cleanup.push(() => srv.close());
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  s.port = (srv.address() as AddressInfo).port;
  return s;
}

interface Talk {
  /** Protocol and server SAN seen at secureConnect (both are gone once the socket closes). */
  protocol?: string | null;
  serverSan?: string;
  data: string;
  error?: Error;
}

/** Connects as `who` and reads until the server closes. */
function talk(port: number, who: Identity): Promise<Talk> {
  return new Promise((resolve) => {
    const t: Talk = { data: '' };
    const sock = tls.connect({
      host: '127.0.0.1',
      port,
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      cert: who.cert,
      key: who.key,
      ca: root.certPem,
      // SVIDs carry no DNS names; weft checks the URI SAN itself.
      checkServerIdentity: () => undefined,
    });
    cleanup.push(() => sock.destroy());
    sock.setEncoding('utf8');
    sock.on('secureConnect', () => {
      t.protocol = sock.getProtocol();
      t.serverSan = sock.getPeerCertificate().subjectaltname;
    });
    sock.on('data', (d: string) => {
      t.data += d;
    });
    sock.on('error', (e) => {
      t.error = e;
    });
    sock.on('close', () => resolve(t));
  });
}

describe('node:tls with weft SVIDs', () => {
  it('completes a TLS 1.3 mutual handshake, the client through an intermediate', async () => {
    const s = await serve();
    const r = await talk(s.port, client);
    expect(r.error).toBeUndefined();
    expect(r.protocol).toBe('TLSv1.3');
    expect(r.serverSan).toBe(`URI:${SERVER_ID}`);
    expect(r.data).toBe('hello');
    expect(s.accepted).toEqual([`URI:${CLIENT_ID}`]);
    expect(s.refused).toEqual([]);
  });

  it('refuses a client whose SVID comes from another root', async () => {
    const s = await serve();
    const r = await talk(s.port, stranger);
    expect(r.data).toBe('');
    expect(s.accepted).toEqual([]);
    expect(s.refused).toEqual(['UNABLE_TO_VERIFY_LEAF_SIGNATURE']);
  });
});
