// The agent's hand-made PKCS#10 request, read back by the two parsers the CA side and
// operators use: @peculiar/x509 (the issuer's) and openssl.
import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { uriSans, x509 } from '../../../agent/src/identity/ca/x509.ts';
import { csrDer, derToPem } from '../../../agent/src/identity/csr.ts';
import { generateKeyAndCsr } from '../../../agent/src/identity/keys.ts';

const ID = 'spiffe://cluster.local/ns/default/sa/web';

const uris = (csr: x509.Pkcs10CertificateRequest) => uriSans(csr.extensions);

describe('generateKeyAndCsr', () => {
  it('makes a P-256 key and a CSR for it that the CA library reads and verifies', async () => {
    const { keyPem, csrPem } = await generateKeyAndCsr(ID);
    const csr = new x509.Pkcs10CertificateRequest(csrPem);
    expect(await csr.verify()).toBe(true);
    expect(csr.subject).toBe('O=SPIFFE');
    expect(csr.signatureAlgorithm).toMatchObject({ name: 'ECDSA', hash: { name: 'SHA-256' } });
    expect(uris(csr)).toEqual([ID]);
    // The CSR carries the public half of the key the agent keeps.
    const key = createPrivateKey(keyPem);
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
    expect(Buffer.from(csr.publicKey.rawData).equals(spki)).toBe(true);
    expect(keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n[\s\S]+\n-----END PRIVATE KEY-----\n$/);
  });

  it('gives a fresh key each time', async () => {
    const [a, b] = await Promise.all([generateKeyAndCsr(ID), generateKeyAndCsr(ID)]);
    expect(a.keyPem).not.toBe(b.keyPem);
  });

  it('passes openssl req -verify, which prints the names', async () => {
    const { csrPem } = await generateKeyAndCsr(ID);
    const out = execFileSync('openssl', ['req', '-verify', '-noout', '-text'], {
      input: csrPem,
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    expect(out).toContain('Subject: O = SPIFFE');
    expect(out).toContain(`URI:${ID}`);
    expect(out).toContain('ecdsa-with-SHA256');
  });

  it('refuses what is not a SPIFFE ID before making a key', async () => {
    await expect(generateKeyAndCsr('https://cluster.local/x')).rejects.toThrow(/scheme/);
  });
});

describe('csrDer', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });

  it('encodes lengths past 255 bytes (a long ID) in DER long form', async () => {
    const long = `spiffe://cluster.local/ns/default/sa/${'a'.repeat(400)}`;
    const der = csrDer(long, privateKey, publicKey);
    expect(der[1]).toBe(0x82); // the outer SEQUENCE: two length bytes
    expect((der[2]! << 8) | der[3]!).toBe(der.length - 4);
    const csr = new x509.Pkcs10CertificateRequest(der);
    expect(await csr.verify()).toBe(true);
    expect(uris(csr)).toEqual([long]);
  });

  it('refuses a URI an IA5String cannot hold, and one longer than a CSR', () => {
    expect(() => csrDer('spiffe://cluster.local/ns/é', privateKey, publicKey)).toThrow(/not ASCII/);
    expect(() => csrDer(`spiffe://x/${'a'.repeat(70_000)}`, privateKey, publicKey)).toThrow(
      /longer than a CSR holds/,
    );
  });
});

describe('derToPem', () => {
  it('wraps at 64 characters and ends in a newline, whatever the length', () => {
    for (const n of [1, 47, 48, 49, 96, 500]) {
      const der = Buffer.alloc(n, 7);
      const pem = derToPem(der, 'X');
      const lines = pem.trimEnd().split('\n');
      expect(lines[0]).toBe('-----BEGIN X-----');
      expect(lines.at(-1)).toBe('-----END X-----');
      const body = lines.slice(1, -1);
      expect(body.every((l) => l.length > 0 && l.length <= 64)).toBe(true);
      expect(Buffer.from(body.join(''), 'base64').equals(der)).toBe(true);
      expect(pem.endsWith('-----\n')).toBe(true);
    }
  });
});
