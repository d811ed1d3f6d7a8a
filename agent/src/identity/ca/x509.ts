// The one door to @peculiar/x509: it needs reflect-metadata loaded first and a WebCrypto
// provider set before any use, so every identity module imports it from here.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(globalThis.crypto);

export { x509 };

/** The URI names in a certificate's (or CSR's) subjectAltName, in order. */
export function uriSans(extensions: readonly x509.Extension[]): string[] {
  const out: string[] = [];
  for (const ext of extensions) {
    if (ext.type !== SAN_OID) continue;
    const san = new x509.SubjectAlternativeNameExtension(ext.rawData);
    for (const name of san.names.items) if (name.type === 'url') out.push(name.value);
  }
  return out;
}

export const SAN_OID = '2.5.29.17';

/** PEM text ending in a newline, so that PEMs concatenate into a valid bundle. */
export function pem(obj: { toString(format: 'pem'): string }): string {
  return `${obj.toString('pem').trimEnd()}\n`;
}
