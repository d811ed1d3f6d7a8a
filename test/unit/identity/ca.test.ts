import type { webcrypto } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type CaFiles,
  CertificateAuthority,
  generateIntermediateCA,
  generateRootCA,
} from '../../../agent/src/identity/ca/ca.ts';
import { x509 } from '../../../agent/src/identity/ca/x509.ts';
import { generateKeyAndCsr, privateKeyPem } from '../../../agent/src/identity/keys.ts';

const TD = 'cluster.local';
const ID = 'spiffe://cluster.local/ns/default/sa/web';
const HOUR = 3600_000;
const { digitalSignature, keyCertSign, cRLSign } = x509.KeyUsageFlags;

const cert = (pem: string) => new x509.X509Certificate(pem);
const ext = <T extends x509.Extension>(c: x509.X509Certificate, t: new (raw: ArrayBuffer) => T) =>
  c.getExtension(t);
/** Every name in the certificate's subjectAltName, of any type. */
const sans = (c: x509.X509Certificate) =>
  c.getExtensions(x509.SubjectAlternativeNameExtension).flatMap((e) => e.names.toJSON());

async function csrFor(
  algorithm: webcrypto.EcKeyGenParams | webcrypto.RsaHashedKeyGenParams,
  signing: webcrypto.EcdsaParams | webcrypto.Algorithm,
  names: x509.JsonGeneralNames = [],
): Promise<string> {
  const keys = (await crypto.subtle.generateKey(algorithm, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: 'CN=admin, O=system:masters',
    keys,
    signingAlgorithm: signing,
    extensions: names.length ? [new x509.SubjectAlternativeNameExtension(names)] : [],
  });
  return csr.toString('pem');
}

let root: CaFiles;
let inter: CaFiles;
let rootCa: CertificateAuthority;
let interCa: CertificateAuthority;
let csr: string;

beforeAll(async () => {
  root = await generateRootCA({ trustDomain: TD });
  inter = await generateIntermediateCA(root, { trustDomain: TD, commonName: 'weft test issuer' });
  rootCa = await CertificateAuthority.load(root);
  interCa = await CertificateAuthority.load({ ...inter });
  csr = (await generateKeyAndCsr(ID)).csrPem;
});

describe('generateRootCA', () => {
  it('makes a self-signed P-256 CA with the SPIFFE CA extensions', async () => {
    const c = cert(root.certPem);
    expect(await c.isSelfSigned()).toBe(true);
    expect(c.publicKey.algorithm).toMatchObject({ name: 'ECDSA', namedCurve: 'P-256' });
    const bc = ext(c, x509.BasicConstraintsExtension)!;
    expect([bc.ca, bc.critical, bc.pathLength]).toEqual([true, true, undefined]);
    const ku = ext(c, x509.KeyUsagesExtension)!;
    expect([ku.usages, ku.critical]).toEqual([keyCertSign | cRLSign, true]);
    expect(ext(c, x509.SubjectKeyIdentifierExtension)?.keyId).toMatch(/^[0-9a-f]{40}$/);
    expect(sans(c)).toEqual([{ type: 'url', value: 'spiffe://cluster.local' }]);
    expect(c.subject).toBe('O=weft, CN=weft root CA cluster.local');
    expect(root.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
  });

  it('lasts ten years by default, or as long as asked', async () => {
    const c = cert(root.certPem);
    const years = (c.notAfter.getTime() - c.notBefore.getTime()) / (365 * 24 * HOUR);
    expect(years).toBeCloseTo(10, 2);
    const now = new Date('2030-01-01T00:00:00Z');
    const short = cert((await generateRootCA({ trustDomain: TD, lifetimeMs: HOUR, now })).certPem);
    expect(short.notBefore.toISOString()).toBe('2029-12-31T23:59:00.000Z');
    expect(short.notAfter.toISOString()).toBe('2030-01-01T01:00:00.000Z');
  });
});

describe('generateIntermediateCA', () => {
  it('is signed by the root, pathLen 0, with both key identifiers', async () => {
    const c = cert(inter.certPem);
    const r = cert(root.certPem);
    expect(await c.verify({ publicKey: r.publicKey, signatureOnly: true })).toBe(true);
    expect(c.issuer).toBe(r.subject);
    expect(c.subject).toBe('O=weft, CN=weft test issuer');
    const bc = ext(c, x509.BasicConstraintsExtension)!;
    expect([bc.ca, bc.critical, bc.pathLength]).toEqual([true, true, 0]);
    expect(ext(c, x509.KeyUsagesExtension)?.usages).toBe(keyCertSign | cRLSign);
    expect(ext(c, x509.AuthorityKeyIdentifierExtension)?.keyId).toBe(
      ext(r, x509.SubjectKeyIdentifierExtension)?.keyId,
    );
    expect(ext(c, x509.SubjectKeyIdentifierExtension)?.keyId).toMatch(/^[0-9a-f]{40}$/);
    expect(sans(c)).toEqual([{ type: 'url', value: 'spiffe://cluster.local' }]);
  });

  it('does not outlive its parent, and keeps to its trust domain', async () => {
    const c = cert(inter.certPem);
    expect(c.notAfter.getTime()).toBeLessThanOrEqual(cert(root.certPem).notAfter.getTime());
    await expect(generateIntermediateCA(root, { trustDomain: 'other.org' })).rejects.toThrow(
      'parent CA is for trust domain cluster.local, not other.org',
    );
  });
});

describe('CertificateAuthority.load', () => {
  it('reads the trust domain from the URI SAN', () => {
    expect(rootCa.trustDomain).toBe(TD);
    expect(interCa.trustDomain).toBe(TD);
    expect(interCa.certPem).toBe(inter.certPem);
  });

  it('refuses a key that is not the certificate’s', async () => {
    await expect(
      CertificateAuthority.load({ certPem: root.certPem, keyPem: inter.keyPem }),
    ).rejects.toThrow("CA key does not match the CA certificate's public key");
  });

  it('refuses a certificate that is not a CA', async () => {
    const { keyPem, csrPem } = await generateKeyAndCsr(ID);
    const svid = await rootCa.signSvid(csrPem, ID);
    await expect(CertificateAuthority.load({ certPem: svid.certPem, keyPem })).rejects.toThrow(
      'CA certificate is not a CA certificate (basicConstraints CA:true is missing)',
    );
  });

  it('refuses a non-EC key, a chain that does not fit, and a conflicting trust domain', async () => {
    const rsa = (await crypto.subtle.generateKey(
      {
        name: 'RSASSA-PKCS1-v1_5',
        modulusLength: 2048,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: 'SHA-256',
      },
      true,
      ['sign', 'verify'],
    )) as webcrypto.CryptoKeyPair;
    await expect(
      CertificateAuthority.load({
        certPem: root.certPem,
        keyPem: await privateKeyPem(rsa.privateKey),
      }),
    ).rejects.toThrow('CA key: private key must be ECDSA P-256 or P-384, not rsa');
    const other = await generateRootCA({ trustDomain: TD });
    await expect(
      CertificateAuthority.load({ ...inter, chainPem: [other.certPem] }),
    ).rejects.toThrow(/chainPem\[0\] \(.*\) did not sign the CA certificate/);
    await expect(CertificateAuthority.load({ ...root, chainPem: [other.certPem] })).rejects.toThrow(
      'CA certificate is a self-signed root; chainPem must be empty',
    );
    await expect(CertificateAuthority.load({ ...root, trustDomain: 'other.org' })).rejects.toThrow(
      'CA certificate is for trust domain cluster.local, not other.org as given',
    );
  });
});

describe('signSvid', () => {
  it('names exactly the given SPIFFE ID, whatever the CSR asks for', async () => {
    const greedy = await csrFor(
      { name: 'ECDSA', namedCurve: 'P-256' },
      { name: 'ECDSA', hash: 'SHA-256' } as webcrypto.EcdsaParams,
      [
        { type: 'url', value: 'spiffe://cluster.local/ns/kube-system/sa/admin' },
        { type: 'dns', value: 'kubernetes.default.svc' },
        { type: 'url', value: ID },
      ],
    );
    const svid = await rootCa.signSvid(greedy, ID);
    const c = cert(svid.certPem);
    expect(sans(c)).toEqual([{ type: 'url', value: ID }]);
    expect(c.subject).toBe('O=SPIFFE');
    expect(svid.spiffeId).toBe(ID);
    expect(svid.chainPem).toEqual([]);
  });

  it('makes a leaf: not a CA, signing only, server and client auth, key identifiers', async () => {
    const svid = await interCa.signSvid(csr, ID);
    const c = cert(svid.certPem);
    const bc = ext(c, x509.BasicConstraintsExtension)!;
    expect([bc.ca, bc.critical]).toEqual([false, true]);
    const ku = ext(c, x509.KeyUsagesExtension)!;
    expect([ku.usages, ku.critical]).toEqual([digitalSignature, true]);
    expect(ext(c, x509.ExtendedKeyUsageExtension)?.usages).toEqual([
      x509.ExtendedKeyUsage.serverAuth,
      x509.ExtendedKeyUsage.clientAuth,
    ]);
    expect(ext(c, x509.AuthorityKeyIdentifierExtension)?.keyId).toBe(
      ext(cert(inter.certPem), x509.SubjectKeyIdentifierExtension)?.keyId,
    );
    expect(ext(c, x509.SubjectKeyIdentifierExtension)?.keyId).toMatch(/^[0-9a-f]{40}$/);
    expect(c.issuer).toBe(cert(inter.certPem).subject);
    expect(await c.verify({ publicKey: cert(inter.certPem).publicKey, signatureOnly: true })).toBe(
      true,
    );
    expect(svid.chainPem).toEqual([interCa.certPem]);
  });

  it('lasts 24 h by default from a minute before now', async () => {
    const now = new Date(Math.floor(Date.now() / 1000) * 1000);
    const svid = await rootCa.signSvid(csr, ID, { now });
    expect(now.getTime() - svid.notBefore.getTime()).toBe(60_000);
    expect(svid.notAfter.getTime() - now.getTime()).toBe(24 * HOUR);
    const c = cert(svid.certPem);
    expect([c.notBefore, c.notAfter]).toEqual([svid.notBefore, svid.notAfter]);
    const short = await rootCa.signSvid(csr, ID, { now, lifetimeMs: HOUR });
    expect(short.notAfter.getTime() - now.getTime()).toBe(HOUR);
  });

  it('never outlives its issuer', async () => {
    const brief = await CertificateAuthority.load(
      await generateRootCA({ trustDomain: TD, lifetimeMs: HOUR }),
    );
    const caNotAfter = cert(brief.certPem).notAfter;
    const svid = await brief.signSvid(csr, ID);
    expect(svid.notAfter).toEqual(caNotAfter);
    await expect(
      brief.signSvid(csr, ID, { now: new Date(caNotAfter.getTime() + 1000) }),
    ).rejects.toThrow(`CA certificate chain expired at ${caNotAfter.toISOString()}`);
  });

  it('gives every certificate its own random 128-bit positive serial', async () => {
    const serials = await Promise.all([1, 2, 3, 4].map(() => rootCa.signSvid(csr, ID)));
    const hex = serials.map((s) => s.serial);
    expect(new Set(hex).size).toBe(4);
    for (const s of hex) expect(s).toMatch(/^[1-7][0-9a-f]{31}$|^0[1-9a-f][0-9a-f]{30}$/);
    expect(cert(serials[0]!.certPem).serialNumber).toBe(hex[0]);
  });

  it('refuses a CSR whose signature does not verify', async () => {
    const der = Buffer.from(new x509.Pkcs10CertificateRequest(csr).rawData);
    der[der.length - 1]! ^= 0x01;
    const bad = x509.PemConverter.encode(der, 'CERTIFICATE REQUEST');
    await expect(rootCa.signSvid(bad, ID)).rejects.toThrow(
      'CSR signature does not verify against its own public key',
    );
  });

  it('refuses RSA and other curves', async () => {
    const rsa = await csrFor(
      {
        name: 'RSASSA-PKCS1-v1_5',
        modulusLength: 2048,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: 'SHA-256',
      },
      { name: 'RSASSA-PKCS1-v1_5' },
    );
    await expect(rootCa.signSvid(rsa, ID)).rejects.toThrow('CSR key must be ECDSA P-256, not rsa');
    const p384 = await csrFor({ name: 'ECDSA', namedCurve: 'P-384' }, {
      name: 'ECDSA',
      hash: 'SHA-384',
    } as webcrypto.EcdsaParams);
    await expect(rootCa.signSvid(p384, ID)).rejects.toThrow(
      'CSR key must be ECDSA P-256, not P-384',
    );
  });

  it('refuses an ID of another trust domain, a non-workload ID, and garbage', async () => {
    await expect(rootCa.signSvid(csr, 'spiffe://other.org/ns/default/sa/web')).rejects.toThrow(
      "spiffe://other.org/ns/default/sa/web is not in this CA's trust domain cluster.local",
    );
    await expect(rootCa.signSvid(csr, 'spiffe://cluster.local')).rejects.toThrow(
      'names a trust domain, not a workload',
    );
    await expect(rootCa.signSvid(csr, 'https://cluster.local/x')).rejects.toThrow(/scheme/);
    await expect(rootCa.signSvid('not a csr', ID)).rejects.toThrow(/^cannot parse CSR/);
  });
});
