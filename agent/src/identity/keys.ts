// Key pairs, PEM encoding of private keys, and the CSR a workload's key comes with.
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPair as generateNodeKeyPair,
  KeyObject,
  type webcrypto,
} from 'node:crypto';
import { promisify } from 'node:util';
import { csrDer, derToPem } from './csr.ts';
import { parseSpiffeUri } from './spiffe/spiffe.ts';

const P256: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };

/** A fresh extractable ECDSA P-256 key pair. */
export function generateKeyPair(): Promise<webcrypto.CryptoKeyPair> {
  return crypto.subtle.generateKey(P256, true, ['sign', 'verify']);
}

/** PKCS#8 PEM of a private key. */
export async function privateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  return KeyObject.from(key).export({ type: 'pkcs8', format: 'pem' }) as string;
}

/** `P-256`, `P-384`, ... for an EC key; `rsa`, `ed25519`, ... otherwise. */
export function keyKind(key: KeyObject): string {
  if (key.asymmetricKeyType !== 'ec') return key.asymmetricKeyType ?? key.type;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  return CURVE_NAMES[curve ?? ''] ?? `EC ${curve ?? 'unknown curve'}`;
}

const CURVE_NAMES: Record<string, string> = {
  prime256v1: 'P-256',
  secp384r1: 'P-384',
  secp521r1: 'P-521',
};

/** The kind (see keyKind) of the public key in a DER SubjectPublicKeyInfo. */
export function spkiKind(spki: ArrayBuffer): string {
  return keyKind(createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }));
}

export interface SigningKey {
  readonly key: webcrypto.CryptoKey;
  /** Node's view of the same key, to compare it with a certificate. */
  readonly object: KeyObject;
  /** The signature algorithm to sign certificates with. */
  readonly algorithm: webcrypto.EcdsaParams;
}

const SIGNING: Record<string, { curve: string; hash: string }> = {
  'P-256': { curve: 'P-256', hash: 'SHA-256' },
  'P-384': { curve: 'P-384', hash: 'SHA-384' },
};

/** An ECDSA P-256 or P-384 private key from PEM (PKCS#8 or SEC1), ready to sign with. */
export async function importSigningKey(pem: string): Promise<SigningKey> {
  let object: KeyObject;
  try {
    object = createPrivateKey(pem);
  } catch (e) {
    throw new Error(`cannot read private key: ${(e as Error).message}`);
  }
  const kind = keyKind(object);
  const alg = SIGNING[kind];
  if (!alg) throw new Error(`private key must be ECDSA P-256 or P-384, not ${kind}`);
  // Through node first, so SEC1 ("EC PRIVATE KEY") PEMs import as well as PKCS#8.
  const der = object.export({ type: 'pkcs8', format: 'der' });
  const key = await crypto.subtle.importKey(
    'pkcs8',
    der,
    { name: 'ECDSA', namedCurve: alg.curve },
    false,
    ['sign'],
  );
  return { key, object, algorithm: { name: 'ECDSA', hash: alg.hash } };
}

const newEcKey = promisify(generateNodeKeyPair);

/**
 * A new ECDSA P-256 key and a CSR for it. The CSR names `spiffeId` as its URI SAN; the CA
 * ignores what a CSR asks for, but it says what the key is meant for. Built with Node's
 * crypto and csr.ts, not @peculiar/x509: the agent calls this, and csr.ts says why.
 */
export async function generateKeyAndCsr(
  spiffeId: string,
): Promise<{ keyPem: string; csrPem: string }> {
  parseSpiffeUri(spiffeId);
  const { privateKey, publicKey } = await newEcKey('ec', { namedCurve: 'P-256' });
  return {
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    csrPem: derToPem(csrDer(spiffeId, privateKey, publicKey), 'CERTIFICATE REQUEST'),
  };
}
