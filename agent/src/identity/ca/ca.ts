// A SPIFFE certificate authority: root and intermediate CA generation, and X.509-SVID signing.
import { X509Certificate as NodeCertificate, webcrypto } from 'node:crypto';
import {
  generateKeyPair,
  importSigningKey,
  privateKeyPem,
  type SigningKey,
  spkiKind,
} from '../keys.ts';
import { parseSpiffeUri, trustDomainId } from '../spiffe/spiffe.ts';
import { pem, uriSans, x509 } from './x509.ts';

export interface CaFiles {
  certPem: string;
  /** PKCS#8 PEM. */
  keyPem: string;
}

export interface CaOptions {
  trustDomain: string;
  commonName?: string;
  /** Default 10 years. */
  lifetimeMs?: number;
  now?: Date;
}

export interface Svid {
  certPem: string;
  /** Intermediates, the leaf's issuer first, without the root. */
  chainPem: string[];
  /** Hex. */
  serial: string;
  notBefore: Date;
  notAfter: Date;
  spiffeId: string;
}

export interface SignOptions {
  /** Default 24 hours. */
  lifetimeMs?: number;
  now?: Date;
}

const HOUR = 3600_000;
const CA_LIFETIME_MS = 10 * 365 * 24 * HOUR;
const SVID_LIFETIME_MS = 24 * HOUR;
// Certificates start a minute early so that a peer whose clock runs behind accepts them.
const CLOCK_SKEW_MS = 60_000;
const CA_USAGES = x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign;

/** Certificates hold whole seconds; round here so what we return is what the certificate says. */
function seconds(ms: number): Date {
  return new Date(Math.floor(ms / 1000) * 1000);
}

/** 16 random bytes, positive and without a leading zero, so the DER INTEGER is 16 bytes. */
function randomSerial(): string {
  const b = webcrypto.getRandomValues(new Uint8Array(16));
  b[0] = b[0]! & 0x7f || 1;
  return Buffer.from(b).toString('hex');
}

function parseCert(pem: string, what: string): x509.X509Certificate {
  try {
    return new x509.X509Certificate(pem.trim());
  } catch (e) {
    throw new Error(`cannot parse ${what}: ${(e as Error).message}`);
  }
}

function checkLifetime(ms: number): void {
  if (!Number.isFinite(ms) || ms < 1000) {
    throw new Error(`lifetime must be at least one second, not ${ms} ms`);
  }
}

/** Whether `cert` was signed by `issuer`'s key, with matching names (node does it synchronously). */
function issuedBy(cert: x509.X509Certificate, issuer: x509.X509Certificate): boolean {
  const c = new NodeCertificate(pem(cert));
  const i = new NodeCertificate(pem(issuer));
  return c.checkIssued(i) && c.verify(i.publicKey);
}

interface Issuer {
  cert: x509.X509Certificate;
  signing: SigningKey;
  /** The earliest notAfter of the issuer and everything above it: nothing it signs outlives it. */
  notAfter: Date;
}

interface IssueParams {
  publicKey: x509.PublicKeyType;
  subject: x509.JsonName;
  now: Date;
  lifetimeMs: number;
  extensions: x509.Extension[];
}

async function issue(by: Issuer, p: IssueParams): Promise<x509.X509Certificate> {
  checkLifetime(p.lifetimeMs);
  if (by.notAfter.getTime() <= p.now.getTime()) {
    throw new Error(`CA certificate chain expired at ${by.notAfter.toISOString()}`);
  }
  const notAfter = Math.min(p.now.getTime() + p.lifetimeMs, by.notAfter.getTime());
  const issuerKeyId =
    by.cert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId ??
    Buffer.from(await by.cert.publicKey.getKeyIdentifier()).toString('hex');
  return x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: p.subject,
    // The issuer's encoded name as is: verifiers match it byte for byte.
    issuer: by.cert.subjectName,
    notBefore: seconds(p.now.getTime() - CLOCK_SKEW_MS),
    notAfter: seconds(notAfter),
    publicKey: p.publicKey,
    signingKey: by.signing.key,
    signingAlgorithm: by.signing.algorithm,
    extensions: [
      ...p.extensions,
      new x509.AuthorityKeyIdentifierExtension(issuerKeyId),
      await x509.SubjectKeyIdentifierExtension.create(p.publicKey),
    ],
  });
}

function caExtensions(trustDomain: string, pathLength?: number): x509.Extension[] {
  return [
    new x509.BasicConstraintsExtension(true, pathLength, true),
    new x509.KeyUsagesExtension(CA_USAGES, true),
    // The X.509-SVID spec lets a CA carry its trust domain's ID; load() reads it back.
    new x509.SubjectAlternativeNameExtension([{ type: 'url', value: trustDomainId(trustDomain) }]),
  ];
}

/** A self-signed root CA for `trustDomain`, with a new ECDSA P-256 key. */
export async function generateRootCA(opts: CaOptions): Promise<CaFiles> {
  const now = opts.now ?? new Date();
  const lifetimeMs = opts.lifetimeMs ?? CA_LIFETIME_MS;
  checkLifetime(lifetimeMs);
  const keys = await generateKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ O: ['weft'] }, { CN: [opts.commonName ?? `weft root CA ${opts.trustDomain}`] }],
    notBefore: seconds(now.getTime() - CLOCK_SKEW_MS),
    notAfter: seconds(now.getTime() + lifetimeMs),
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as webcrypto.EcdsaParams,
    extensions: [
      ...caExtensions(opts.trustDomain),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: pem(cert), keyPem: await privateKeyPem(keys.privateKey) };
}

/**
 * An intermediate CA signed by `parent` (a root or another intermediate), with a new ECDSA
 * P-256 key. pathLen 0: it signs workloads, not further CAs.
 */
export async function generateIntermediateCA(parent: CaFiles, opts: CaOptions): Promise<CaFiles> {
  const issuer = await loadIssuer(parent, []);
  const parentTd = trustDomainOf(issuer.cert);
  if (parentTd !== undefined && parentTd !== opts.trustDomain) {
    throw new Error(`parent CA is for trust domain ${parentTd}, not ${opts.trustDomain}`);
  }
  const keys = await generateKeyPair();
  const cert = await issue(issuer, {
    publicKey: keys.publicKey,
    subject: [
      { O: ['weft'] },
      { CN: [opts.commonName ?? `weft intermediate CA ${opts.trustDomain}`] },
    ],
    now: opts.now ?? new Date(),
    lifetimeMs: opts.lifetimeMs ?? CA_LIFETIME_MS,
    extensions: caExtensions(opts.trustDomain, 0),
  });
  return { certPem: pem(cert), keyPem: await privateKeyPem(keys.privateKey) };
}

/** The trust domain named by a certificate's spiffe:// URI SAN, if it has one. */
function trustDomainOf(cert: x509.X509Certificate): string | undefined {
  const ids = uriSans(cert.extensions).filter((u) => u.startsWith('spiffe://'));
  if (ids.length > 1) throw new Error(`CA certificate has ${ids.length} SPIFFE URI SANs`);
  return ids[0] === undefined ? undefined : parseSpiffeUri(ids[0]).trustDomain;
}

function checkIsCa(cert: x509.X509Certificate, what: string): void {
  if (!cert.getExtension(x509.BasicConstraintsExtension)?.ca) {
    throw new Error(`${what} is not a CA certificate (basicConstraints CA:true is missing)`);
  }
  const ku = cert.getExtension(x509.KeyUsagesExtension);
  if (ku && !(ku.usages & x509.KeyUsageFlags.keyCertSign)) {
    throw new Error(`${what} may not sign certificates (keyUsage lacks keyCertSign)`);
  }
}

async function loadIssuer(files: CaFiles, chain: x509.X509Certificate[]): Promise<Issuer> {
  const cert = parseCert(files.certPem, 'CA certificate');
  checkIsCa(cert, 'CA certificate');
  const signing = await importSigningKey(files.keyPem).catch((e: Error) => {
    throw new Error(`CA key: ${e.message}`);
  });
  if (!new NodeCertificate(pem(cert)).checkPrivateKey(signing.object)) {
    throw new Error("CA key does not match the CA certificate's public key");
  }
  const notAfter = Math.min(...[cert, ...chain].map((c) => c.notAfter.getTime()));
  return { cert, signing, notAfter: new Date(notAfter) };
}

/** A loaded CA: signs X.509-SVIDs for workloads of its trust domain. */
export class CertificateAuthority {
  readonly certPem: string;
  readonly trustDomain: string;
  readonly #issuer: Issuer;
  /** What a leaf it signs is presented with: this CA (unless a root) and the chain above. */
  readonly #leafChain: string[];

  private constructor(issuer: Issuer, trustDomain: string, leafChain: string[]) {
    this.#issuer = issuer;
    this.certPem = pem(issuer.cert);
    this.trustDomain = trustDomain;
    this.#leafChain = leafChain;
  }

  /**
   * `chainPem`: the intermediates above `certPem`, its issuer first, without the root.
   * `trustDomain` is needed only when the CA certificate carries no spiffe:// URI SAN.
   */
  static async load(files: {
    certPem: string;
    keyPem: string;
    chainPem?: string[];
    trustDomain?: string;
  }): Promise<CertificateAuthority> {
    const chain = (files.chainPem ?? []).map((p, i) => parseCert(p, `chainPem[${i}]`));
    const issuer = await loadIssuer(files, chain);
    const selfSigned = await issuer.cert.isSelfSigned();
    if (selfSigned && chain.length > 0) {
      throw new Error('CA certificate is a self-signed root; chainPem must be empty');
    }
    let below = issuer.cert;
    for (const [i, c] of chain.entries()) {
      checkIsCa(c, `chainPem[${i}]`);
      if (!issuedBy(below, c)) {
        const child = i === 0 ? 'the CA certificate' : `chainPem[${i - 1}]`;
        throw new Error(`chainPem[${i}] (${c.subject}) did not sign ${child} (${below.subject})`);
      }
      below = c;
    }
    const named = trustDomainOf(issuer.cert);
    if (named !== undefined && files.trustDomain !== undefined && named !== files.trustDomain) {
      throw new Error(
        `CA certificate is for trust domain ${named}, not ${files.trustDomain} as given`,
      );
    }
    const trustDomain = named ?? files.trustDomain;
    if (trustDomain === undefined) {
      throw new Error('CA certificate has no spiffe:// URI SAN; give its trustDomain');
    }
    trustDomainId(trustDomain);
    const leafChain = selfSigned ? [] : [issuer.cert, ...chain].map((c) => pem(c));
    return new CertificateAuthority(issuer, trustDomain, leafChain);
  }

  /**
   * A TLS server certificate for the issuer's own API (DNS names, serverAuth only),
   * with a fresh key: agents reach the issuer by its Service name and verify it
   * against the mesh roots they already trust.
   */
  async issueServing(
    dnsNames: readonly string[],
    opts: SignOptions = {},
  ): Promise<{ certPem: string; keyPem: string; chainPem: string[] }> {
    if (dnsNames.length === 0) throw new Error('a serving certificate needs at least one DNS name');
    const keys = await generateKeyPair();
    const cert = await issue(this.#issuer, {
      publicKey: await x509.PublicKey.create(keys.publicKey),
      subject: [{ CN: [dnsNames[0]!] }],
      now: opts.now ?? new Date(),
      lifetimeMs: opts.lifetimeMs ?? SVID_LIFETIME_MS,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(dnsNames.map((d) => ({ type: 'dns', value: d }))),
      ],
    });
    return {
      certPem: pem(cert),
      keyPem: await privateKeyPem(keys.privateKey),
      chainPem: [...this.#leafChain],
    };
  }

  /**
   * An X.509-SVID for the key in `csrPem`, naming exactly `spiffeId`. Everything else the CSR
   * asks for (subject, SANs, extensions) is ignored: identity comes from the caller, who has
   * checked that the requester may have it.
   */
  async signSvid(csrPem: string, spiffeId: string, opts: SignOptions = {}): Promise<Svid> {
    const { trustDomain, segments } = parseSpiffeUri(spiffeId);
    if (trustDomain !== this.trustDomain) {
      throw new Error(`${spiffeId} is not in this CA's trust domain ${this.trustDomain}`);
    }
    if (segments.length === 0) throw new Error(`${spiffeId} names a trust domain, not a workload`);
    let csr: x509.Pkcs10CertificateRequest;
    try {
      csr = new x509.Pkcs10CertificateRequest(csrPem.trim());
    } catch (e) {
      throw new Error(`cannot parse CSR: ${(e as Error).message}`);
    }
    let kind: string;
    try {
      kind = spkiKind(csr.publicKey.rawData);
    } catch (e) {
      throw new Error(`CSR key is unreadable: ${(e as Error).message}`);
    }
    if (kind !== 'P-256') throw new Error(`CSR key must be ECDSA P-256, not ${kind}`);
    // Proof that the requester holds the private key.
    if (!(await csr.verify().catch(() => false))) {
      throw new Error('CSR signature does not verify against its own public key');
    }
    const cert = await issue(this.#issuer, {
      publicKey: csr.publicKey,
      subject: [{ O: ['SPIFFE'] }],
      now: opts.now ?? new Date(),
      lifetimeMs: opts.lifetimeMs ?? SVID_LIFETIME_MS,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([
          x509.ExtendedKeyUsage.serverAuth,
          x509.ExtendedKeyUsage.clientAuth,
        ]),
        new x509.SubjectAlternativeNameExtension([{ type: 'url', value: spiffeId }]),
      ],
    });
    return {
      certPem: pem(cert),
      chainPem: [...this.#leafChain],
      serial: cert.serialNumber,
      notBefore: cert.notBefore,
      notAfter: cert.notAfter,
      spiffeId,
    };
  }
}
