// TLS settings both ends of HBONE share: TLS 1.3 only, mutual, ALPN h2, and
// peers identified by their SPIFFE ID (URI SAN), never by DNS names.
import type { PeerCertificate } from 'node:tls';

export const HBONE_ALPN = ['h2'];

/** The SPIFFE ID in a verified peer certificate, or undefined. */
export function peerSpiffeId(cert: PeerCertificate | undefined): string | undefined {
  const san = cert?.subjectaltname;
  if (!san) return undefined;
  const uris = san
    .split(', ')
    .filter((s) => s.startsWith('URI:spiffe://'))
    .map((s) => s.slice(4));
  return uris.length === 1 ? uris[0] : undefined;
}

export interface TlsMaterial {
  keyPem: string;
  certChainPem: string;
  roots: string[];
}

export function serverOptions(m: TlsMaterial) {
  return {
    key: m.keyPem,
    cert: m.certChainPem,
    ca: m.roots,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.3' as const,
    maxVersion: 'TLSv1.3' as const,
    ALPNProtocols: HBONE_ALPN,
  };
}
