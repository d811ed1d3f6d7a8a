// The PKCS#10 request (RFC 2986) an agent sends with each new key, DER-encoded by hand.
// Why not @peculiar/x509, which the CA side reads it with: the agent needs one fixed
// structure, once per renewal, and that library (with asn1js, tsyringe and reflect-metadata)
// held 3.2 MiB of heap and 2.7 MiB of resident memory in every agent for the process's life
// (docs/performance.md, "Three things an idle agent held for nothing").
import { type KeyObject, sign } from 'node:crypto';

/** A DER tag-length-value. Lengths up to 65,535 bytes: nothing in a CSR is longer. */
function tlv(tag: number, ...parts: Buffer[]): Buffer {
  const body = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  const n = body.length;
  if (n > 0xffff) throw new Error(`DER value of ${n} bytes: longer than a CSR holds`);
  const head = n < 0x80 ? [tag, n] : n < 0x100 ? [tag, 0x81, n] : [tag, 0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from(head), body]);
}

const SEQUENCE = 0x30;
const SET = 0x31;
const INTEGER = 0x02;
const BIT_STRING = 0x03;
const OCTET_STRING = 0x04;
const UTF8_STRING = 0x0c;
const CONTEXT_0 = 0xa0; // [0], constructed: the request's attributes
const URI_NAME = 0x86; // GeneralName uniformResourceIdentifier, [6] IMPLICIT IA5String

// Object identifiers, already DER-encoded (tag, length, value).
const OID_ORGANIZATION = Buffer.from('060355040a', 'hex'); // 2.5.4.10
const OID_EXTENSION_REQUEST = Buffer.from('06092a864886f70d01090e', 'hex'); // 1.2.840.113549.1.9.14
const OID_SUBJECT_ALT_NAME = Buffer.from('0603551d11', 'hex'); // 2.5.29.17
const OID_ECDSA_SHA256 = Buffer.from('06082a8648ce3d040302', 'hex'); // 1.2.840.10045.4.3.2

/**
 * A CSR for `privateKey` (ECDSA P-256) with the subject O=SPIFFE and `uri` as its only
 * subjectAltName, signed ECDSA with SHA-256; DER.
 */
export function csrDer(uri: string, privateKey: KeyObject, publicKey: KeyObject): Buffer {
  // IA5String is ASCII; a SPIFFE ID is, and a wider character would be a broken name.
  if (!/^[\x20-\x7e]+$/.test(uri)) throw new Error(`URI SAN ${JSON.stringify(uri)}: not ASCII`);
  const subject = tlv(
    SEQUENCE,
    tlv(SET, tlv(SEQUENCE, OID_ORGANIZATION, tlv(UTF8_STRING, Buffer.from('SPIFFE')))),
  );
  const san = tlv(SEQUENCE, tlv(URI_NAME, Buffer.from(uri, 'ascii')));
  const extensions = tlv(SEQUENCE, tlv(SEQUENCE, OID_SUBJECT_ALT_NAME, tlv(OCTET_STRING, san)));
  const attributes = tlv(CONTEXT_0, tlv(SEQUENCE, OID_EXTENSION_REQUEST, tlv(SET, extensions)));
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const info = tlv(SEQUENCE, tlv(INTEGER, Buffer.of(0)), subject, spki, attributes);
  const signature = sign('sha256', info, { key: privateKey, dsaEncoding: 'der' });
  return tlv(
    SEQUENCE,
    info,
    tlv(SEQUENCE, OID_ECDSA_SHA256),
    tlv(BIT_STRING, Buffer.of(0), signature), // no unused bits
  );
}

/** PEM text of DER `der` under `label`, 64 characters a line, ending in a newline. */
export function derToPem(der: Buffer, label: string): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}
