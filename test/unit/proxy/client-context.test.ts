// The HBONE client's TLS context per identity: asked for on every stream opened,
// built again only when the certificate or the trust bundle changed, and the
// bundle is never joined or copied to find out.
import { describe, expect, it } from 'vitest';
import { CertificateAuthority, generateRootCA } from '../../../agent/src/identity/ca/ca.ts';
import { generateKeyAndCsr } from '../../../agent/src/identity/keys.ts';
import type { Svid } from '../../../agent/src/identity/manager.ts';
import { NodeProxy } from '../../../agent/src/proxy/index.ts';

const ID = 'spiffe://cluster.local/ns/shop/sa/web';

describe('NodeProxy client contexts', () => {
  it('reuses the context while certificate and bundle stay, without joining the bundle', async () => {
    const root = await generateRootCA({ trustDomain: 'cluster.local' });
    const ca = await CertificateAuthority.load(root);
    const { keyPem, csrPem } = await generateKeyAndCsr(ID);
    const signed = await ca.signSvid(csrPem, ID);
    const svid: Svid = {
      spiffeId: ID,
      keyPem,
      certChainPem: signed.certPem,
      serial: '1',
      notAfter: new Date(Date.now() + 3_600_000),
      issuedAt: new Date(),
    };
    let joins = 0;
    const bundle = (pems: string[]) => {
      const b = [...pems];
      b.join = (sep?: string) => {
        joins++;
        return Array.prototype.join.call(b, sep);
      };
      return b;
    };
    let roots = bundle([root.certPem]);
    const proxy = new NodeProxy({
      lookup: () => undefined,
      trustDomain: 'cluster.local',
      identities: { get: () => svid, trustBundle: () => roots },
    });
    const context = (id: string) =>
      (proxy as unknown as { clientContext(id: string): unknown }).clientContext(id);
    try {
      const first = context(ID);
      expect(first).toBeDefined();
      for (let i = 0; i < 10; i++) expect(context(ID)).toBe(first);
      roots = bundle([root.certPem, root.certPem]);
      const renewed = context(ID);
      expect(renewed).not.toBe(first);
      expect(context(ID)).toBe(renewed);
      expect(joins).toBe(0);
    } finally {
      proxy.close();
    }
  });
});
