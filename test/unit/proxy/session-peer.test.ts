// An HBONE session's peer: read from its certificate and parsed once per TLS
// session, however many streams it carries. Real mutual TLS 1.3 on loopback.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { CertificateAuthority, generateRootCA } from '../../../agent/src/identity/ca/ca.ts';
import { generateKeyAndCsr } from '../../../agent/src/identity/keys.ts';
import { serverOptions, sessionPeer } from '../../../agent/src/proxy/hbone/tls.ts';

const CLIENT_ID = 'spiffe://cluster.local/ns/shop/sa/web';

describe('sessionPeer', () => {
  it('reads and parses the peer certificate once per session', async () => {
    const root = await generateRootCA({ trustDomain: 'cluster.local' });
    const ca = await CertificateAuthority.load(root);
    const leaf = async (id: string) => {
      const { keyPem, csrPem } = await generateKeyAndCsr(id);
      return { keyPem, certPem: (await ca.signSvid(csrPem, id)).certPem };
    };
    const srv = await leaf('spiffe://cluster.local/ns/shop/sa/db');
    const cli = await leaf(CLIENT_ID);
    const roots = [root.certPem];
    const server = createServer({
      ...serverOptions({ keyPem: srv.keyPem, certChainPem: srv.certPem, roots }),
      ALPNProtocols: undefined,
    });
    const accepted = once(server, 'secureConnection') as Promise<[TLSSocket]>;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const client = connect({
      host: '127.0.0.1',
      port: (server.address() as AddressInfo).port,
      key: cli.keyPem,
      cert: cli.certPem,
      ca: roots,
      minVersion: 'TLSv1.3',
      checkServerIdentity: () => undefined,
    });
    client.on('error', () => {});
    try {
      const [tls] = await accepted;
      let reads = 0;
      const read = tls.getPeerCertificate.bind(tls);
      tls.getPeerCertificate = ((detailed?: boolean) => {
        reads++;
        return read(detailed as false);
      }) as TLSSocket['getPeerCertificate'];
      const first = sessionPeer(tls);
      const again = sessionPeer(tls);
      expect(first).toEqual({
        identity: CLIENT_ID,
        principal: 'cluster.local/ns/shop/sa/web',
        namespace: 'shop',
      });
      expect(again).toBe(first);
      expect(reads).toBe(1);
      expect(sessionPeer(undefined)).toBeUndefined();
    } finally {
      client.destroy();
      server.close();
    }
  });
});
