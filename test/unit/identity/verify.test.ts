import { beforeAll, describe, expect, it } from 'vitest';
import {
  type CaFiles,
  CertificateAuthority,
  generateIntermediateCA,
  generateRootCA,
  type Svid,
} from '../../../agent/src/identity/ca/ca.ts';
import { verifySvid } from '../../../agent/src/identity/ca/verify.ts';
import { x509 } from '../../../agent/src/identity/ca/x509.ts';
import {
  generateKeyAndCsr,
  generateKeyPair,
  importSigningKey,
} from '../../../agent/src/identity/keys.ts';

const TD = 'cluster.local';
const ID = 'spiffe://cluster.local/ns/default/sa/web';

let root: CaFiles;
let inter: CaFiles;
let otherRoot: CaFiles;
let direct: Svid;
let viaInter: Svid;
let foreign: Svid;

/** A leaf signed by `issuer` with exactly the extensions given: for shapes signSvid never makes. */
async function craftLeaf(issuer: CaFiles, extensions: x509.Extension[]): Promise<string> {
  const { key, algorithm } = await importSigningKey(issuer.keyPem);
  const keys = await generateKeyPair();
  const c = await x509.X509CertificateGenerator.create({
    subject: 'O=SPIFFE',
    issuer: new x509.X509Certificate(issuer.certPem).subjectName,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 3600_000),
    publicKey: keys.publicKey,
    signingKey: key,
    signingAlgorithm: algorithm,
    extensions,
  });
  return c.toString('pem');
}

const uri = (value: string) => ({ type: 'url' as const, value });
const leafBc = new x509.BasicConstraintsExtension(false, undefined, true);

beforeAll(async () => {
  root = await generateRootCA({ trustDomain: TD });
  inter = await generateIntermediateCA(root, { trustDomain: TD });
  otherRoot = await generateRootCA({ trustDomain: TD });
  const { csrPem } = await generateKeyAndCsr(ID);
  direct = await (await CertificateAuthority.load(root)).signSvid(csrPem, ID);
  viaInter = await (await CertificateAuthority.load(inter)).signSvid(csrPem, ID);
  foreign = await (await CertificateAuthority.load(otherRoot)).signSvid(csrPem, ID);
});

describe('verifySvid accepts', () => {
  it('root → leaf', () => {
    expect(verifySvid(direct.certPem, direct.chainPem, [root.certPem])).toEqual({
      ok: true,
      spiffeId: ID,
      notAfter: direct.notAfter,
    });
  });

  it('root → intermediate → leaf, and any root of several', () => {
    expect(viaInter.chainPem).toHaveLength(1);
    expect(
      verifySvid(viaInter.certPem, viaInter.chainPem, [otherRoot.certPem, root.certPem]),
    ).toEqual({ ok: true, spiffeId: ID, notAfter: viaInter.notAfter });
  });
});

describe('verifySvid rejects', () => {
  const reason = (r: ReturnType<typeof verifySvid>) => (r.ok ? 'ok' : r.reason);

  it('a leaf of another CA', () => {
    expect(reason(verifySvid(foreign.certPem, [], [root.certPem]))).toBe(
      'not signed by any trusted root',
    );
  });

  it('an intermediate chain whose root is not trusted', () => {
    expect(reason(verifySvid(viaInter.certPem, viaInter.chainPem, [otherRoot.certPem]))).toMatch(
      /^not signed by any trusted root \(chain ends at intermediate "O=weft, CN=weft intermediate CA cluster.local"/,
    );
  });

  it('a leaf without its intermediate', () => {
    expect(reason(verifySvid(viaInter.certPem, [], [root.certPem]))).toBe(
      'not signed by any trusted root',
    );
  });

  it('an expired leaf, and one not yet valid', () => {
    const later = new Date(direct.notAfter.getTime() + 1000);
    expect(reason(verifySvid(direct.certPem, [], [root.certPem], later))).toBe(
      `leaf certificate expired at ${direct.notAfter.toISOString()}`,
    );
    const earlier = new Date(direct.notBefore.getTime() - 1000);
    expect(reason(verifySvid(direct.certPem, [], [root.certPem], earlier))).toBe(
      `leaf certificate is not valid until ${direct.notBefore.toISOString()}`,
    );
  });

  it('a CA certificate as the leaf', () => {
    expect(reason(verifySvid(inter.certPem, [], [root.certPem]))).toBe(
      'leaf is a CA certificate (basicConstraints CA:true)',
    );
    expect(reason(verifySvid(root.certPem, [], [root.certPem]))).toBe(
      'leaf is a CA certificate (basicConstraints CA:true)',
    );
  });

  it('a leaf without URI SAN, with two, or with a non-SPIFFE one', async () => {
    const none = await craftLeaf(root, [leafBc]);
    expect(reason(verifySvid(none, [], [root.certPem]))).toBe('leaf has no URI SAN');
    const dnsOnly = await craftLeaf(root, [
      leafBc,
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'web.default.svc' }]),
    ]);
    expect(reason(verifySvid(dnsOnly, [], [root.certPem]))).toBe('leaf has no URI SAN');
    const two = await craftLeaf(root, [
      leafBc,
      new x509.SubjectAlternativeNameExtension([uri(ID), uri('spiffe://cluster.local/ns/a/sa/b')]),
    ]);
    expect(reason(verifySvid(two, [], [root.certPem]))).toBe('leaf has 2 URI SANs');
    const https = await craftLeaf(root, [
      leafBc,
      new x509.SubjectAlternativeNameExtension([uri('https://web.example')]),
    ]);
    expect(reason(verifySvid(https, [], [root.certPem]))).toMatch(
      /^leaf URI SAN is not a workload SPIFFE ID: .*scheme/,
    );
  });

  it('a leaf allowed to sign certificates', async () => {
    const signer = await craftLeaf(root, [
      leafBc,
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign,
      ),
      new x509.SubjectAlternativeNameExtension([uri(ID)]),
    ]);
    expect(reason(verifySvid(signer, [], [root.certPem]))).toBe(
      'leaf key usage includes keyCertSign or cRLSign',
    );
  });

  it('a leaf below an intermediate of pathLen 0 that has another intermediate under it', async () => {
    // root → inter (pathLen 0) → sub (a CA, which inter may not sign) → leaf
    const sub = await generateIntermediateCA(inter, { trustDomain: TD, commonName: 'sub' });
    const leaf = await (
      await CertificateAuthority.load({ ...sub, chainPem: [inter.certPem] })
    ).signSvid((await generateKeyAndCsr(ID)).csrPem, ID);
    expect(leaf.chainPem).toHaveLength(2);
    expect(reason(verifySvid(leaf.certPem, leaf.chainPem, [root.certPem]))).toBe(
      'intermediate "O=weft, CN=weft intermediate CA cluster.local" has pathLen 0 but 1 intermediate CA(s) below it',
    );
  });

  it('an unknown critical extension, garbage, and an empty bundle', async () => {
    const odd = await craftLeaf(root, [
      leafBc,
      new x509.SubjectAlternativeNameExtension([uri(ID)]),
      new x509.Extension('1.3.6.1.4.1.99999.1', true, new Uint8Array([5, 0])),
    ]);
    expect(reason(verifySvid(odd, [], [root.certPem]))).toBe(
      'leaf has unsupported critical extension 1.3.6.1.4.1.99999.1',
    );
    expect(reason(verifySvid('junk', [], [root.certPem]))).toMatch(
      /^cannot parse leaf certificate/,
    );
    expect(reason(verifySvid(direct.certPem, [], []))).toBe('no trusted roots given');
  });
});
