// X.509-SVID path validation, synchronous, with a specific reason on failure. TLS handshakes
// use node:tls; this is for the issuer and for tests, which want to know why.
import { X509Certificate as NodeCertificate } from 'node:crypto';
import { parseSpiffeUri } from '../spiffe/spiffe.ts';
import { SAN_OID, uriSans, x509 } from './x509.ts';

export type SvidVerification =
  | { ok: true; spiffeId: string; notAfter: Date }
  | { ok: false; reason: string };

// Critical extensions this check understands; any other critical one fails closed (RFC 5280).
const UNDERSTOOD = new Set(['2.5.29.19', '2.5.29.15', '2.5.29.37', SAN_OID]);
const MAX_DEPTH = 8;

class Rejected extends Error {}

interface Cert {
  /** "leaf", "intermediate", "root": for reasons. */
  role: string;
  parsed: x509.X509Certificate;
  node: NodeCertificate;
}

function load(pem: string, role: string): Cert {
  try {
    return { role, parsed: new x509.X509Certificate(pem.trim()), node: new NodeCertificate(pem) };
  } catch (e) {
    throw new Rejected(`cannot parse ${role} certificate: ${(e as Error).message}`);
  }
}

function named(c: Cert): string {
  return c.role === 'leaf' ? 'leaf' : `${c.role} "${c.parsed.subject}"`;
}

function issued(issuer: Cert, cert: Cert): boolean {
  try {
    return cert.node.checkIssued(issuer.node) && cert.node.verify(issuer.node.publicKey);
  } catch {
    return false;
  }
}

function checkLeaf(leaf: Cert): string {
  if (leaf.parsed.getExtension(x509.BasicConstraintsExtension)?.ca) {
    throw new Rejected('leaf is a CA certificate (basicConstraints CA:true)');
  }
  const ku = leaf.parsed.getExtension(x509.KeyUsagesExtension);
  if (ku) {
    const { digitalSignature, keyCertSign, cRLSign } = x509.KeyUsageFlags;
    if (ku.usages & (keyCertSign | cRLSign)) {
      throw new Rejected('leaf key usage includes keyCertSign or cRLSign');
    }
    if (!(ku.usages & digitalSignature)) {
      throw new Rejected('leaf key usage lacks digitalSignature');
    }
  }
  const uris = uriSans(leaf.parsed.extensions);
  if (uris.length === 0) throw new Rejected('leaf has no URI SAN');
  if (uris.length > 1) throw new Rejected(`leaf has ${uris.length} URI SANs`);
  const id = uris[0]!;
  try {
    if (parseSpiffeUri(id).segments.length === 0) {
      throw new Error(`${id} names a trust domain, not a workload`);
    }
  } catch (e) {
    throw new Rejected(`leaf URI SAN is not a workload SPIFFE ID: ${(e as Error).message}`);
  }
  return id;
}

/** leaf, intermediates..., root; by names, key identifiers and signatures. */
function buildPath(leaf: Cert, intermediates: Cert[], roots: Cert[]): Cert[] {
  const path = [leaf];
  const unused = new Set(intermediates);
  for (let cur = leaf; path.length <= MAX_DEPTH; ) {
    const root = roots.find((r) => issued(r, cur));
    if (root) return [...path, root];
    const next = [...unused].find((i) => issued(i, cur));
    if (!next) {
      const at =
        cur === leaf ? '' : ` (chain ends at ${named(cur)}, issuer "${cur.parsed.issuer}")`;
      throw new Rejected(`not signed by any trusted root${at}`);
    }
    unused.delete(next);
    path.push(next);
    cur = next;
  }
  throw new Rejected(`chain longer than ${MAX_DEPTH} certificates`);
}

function checkTimes(c: Cert, now: Date): void {
  const { notBefore, notAfter } = c.parsed;
  if (now < notBefore) {
    throw new Rejected(`${named(c)} certificate is not valid until ${notBefore.toISOString()}`);
  }
  if (now > notAfter) {
    throw new Rejected(`${named(c)} certificate expired at ${notAfter.toISOString()}`);
  }
}

/** `c` signs the path below it, `below` of which are CAs (intermediates). */
function checkCa(c: Cert, below: number): void {
  const bc = c.parsed.getExtension(x509.BasicConstraintsExtension);
  if (!bc?.ca) throw new Rejected(`${named(c)} is not a CA (basicConstraints CA:true missing)`);
  const ku = c.parsed.getExtension(x509.KeyUsagesExtension);
  if (ku && !(ku.usages & x509.KeyUsageFlags.keyCertSign)) {
    throw new Rejected(`${named(c)} key usage lacks keyCertSign`);
  }
  if (bc.pathLength !== undefined && below > bc.pathLength) {
    throw new Rejected(
      `${named(c)} has pathLen ${bc.pathLength} but ${below} intermediate CA(s) below it`,
    );
  }
}

function checkCritical(c: Cert): void {
  for (const ext of c.parsed.extensions) {
    if (ext.critical && !UNDERSTOOD.has(ext.type)) {
      throw new Rejected(`${named(c)} has unsupported critical extension ${ext.type}`);
    }
  }
}

/**
 * Whether `leafPem` is a valid X.509-SVID chaining (through `intermediatesPem`, any order) to
 * one of `rootsPem` at `now`. `notAfter` is the earliest expiry on the path: when it stops
 * verifying.
 */
export function verifySvid(
  leafPem: string,
  intermediatesPem: string[],
  rootsPem: string[],
  now: Date = new Date(),
): SvidVerification {
  try {
    if (rootsPem.length === 0) throw new Rejected('no trusted roots given');
    const leaf = load(leafPem, 'leaf');
    const intermediates = intermediatesPem.map((p) => load(p, 'intermediate'));
    const roots = rootsPem.map((p) => load(p, 'root'));
    const spiffeId = checkLeaf(leaf);
    const path = buildPath(leaf, intermediates, roots);
    for (const c of path) checkTimes(c, now);
    path.forEach((c, i) => {
      checkCritical(c);
      if (i > 0) checkCa(c, i - 1);
    });
    const notAfter = Math.min(...path.map((c) => c.parsed.notAfter.getTime()));
    return { ok: true, spiffeId, notAfter: new Date(notAfter) };
  } catch (e) {
    if (e instanceof Rejected) return { ok: false, reason: e.message };
    throw e;
  }
}
