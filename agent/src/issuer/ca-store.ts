// The CA's files: loaded from a directory, or generated there on first start.
//   ca.pem, ca-key.pem   the signing CA (a root, or an intermediate)
//   chain.pem            intermediates above it, if any (leaf's issuer first)
//   roots.pem            every trusted root: the bundle agents verify peers with
// A root rotation edits roots.pem (add the new root, switch ca.pem, drop the
// old root); the issuer re-reads it for every bundle it serves.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CertificateAuthority, generateRootCA } from '../identity/ca/index.ts';

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export function splitPem(text: string): string[] {
  return (text.match(PEM_CERT) ?? []).map((p) => `${p}\n`);
}

export interface CaStore {
  /** The signing CA; replaced by reload(). */
  ca: CertificateAuthority;
  /** The roots currently trusted (re-read from disk each call). */
  roots(): string[];
  /** Re-reads ca.pem, ca-key.pem and chain.pem (the switch step of a root rotation). */
  reload(): Promise<void>;
}

export async function openCaStore(dir: string, trustDomain: string): Promise<CaStore> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const certPath = join(dir, 'ca.pem');
  const keyPath = join(dir, 'ca-key.pem');
  const rootsPath = join(dir, 'roots.pem');
  if (!existsSync(certPath)) {
    const root = await generateRootCA({ trustDomain });
    writeFileSync(keyPath, root.keyPem, { mode: 0o600 });
    chmodSync(keyPath, 0o600);
    writeFileSync(certPath, root.certPem);
    writeFileSync(rootsPath, root.certPem);
  }
  const chainPath = join(dir, 'chain.pem');
  const load = async () => {
    const ca = await CertificateAuthority.load({
      certPem: readFileSync(certPath, 'utf8'),
      keyPem: readFileSync(keyPath, 'utf8'),
      chainPem: existsSync(chainPath) ? splitPem(readFileSync(chainPath, 'utf8')) : [],
    });
    if (ca.trustDomain !== trustDomain) {
      throw new Error(`CA in ${dir} is for trust domain ${ca.trustDomain}, not ${trustDomain}`);
    }
    return ca;
  };
  const store: CaStore = {
    ca: await load(),
    async reload() {
      store.ca = await load();
    },
    roots() {
      const roots = existsSync(rootsPath) ? splitPem(readFileSync(rootsPath, 'utf8')) : [];
      if (roots.length === 0) throw new Error(`${rootsPath} holds no root certificate`);
      return roots;
    },
  };
  return store;
}
