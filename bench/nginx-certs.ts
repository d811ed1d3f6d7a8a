// Certificates of the nginx mTLS pair, made with openssl: a throwaway CA, a
// server certificate for TLS_SERVER_NAME and a client certificate, ECDSA P-256
// like weft's SVIDs, valid for a day.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TLS_SERVER_NAME, type TlsFiles } from './nginx-conf.ts';

function openssl(args: string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const err = (e as { stderr?: Buffer }).stderr?.toString() ?? (e as Error).message;
    throw new Error(`openssl ${args[0]} failed: ${err.trim()}`);
  }
}

const newKey = (path: string) =>
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);

function leaf(dir: string, ca: TlsFiles, name: string, ext: string): TlsFiles {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const extFile = join(dir, `${name}.ext`);
  newKey(key);
  openssl(['req', '-new', '-key', key, '-subj', `/CN=${name}`, '-out', csr]);
  writeFileSync(extFile, ext);
  openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    extFile,
    '-out',
    cert,
  ]);
  return { ca: ca.cert, cert, key };
}

export function makeNginxCerts(dir: string): { server: TlsFiles; client: TlsFiles } {
  const ca = { ca: join(dir, 'ca.crt'), cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') };
  newKey(ca.key);
  openssl([
    'req',
    '-x509',
    '-new',
    '-key',
    ca.key,
    '-subj',
    '/CN=bench CA',
    '-days',
    '1',
    '-out',
    ca.cert,
  ]);
  const usage = 'keyUsage=critical,digitalSignature\nbasicConstraints=critical,CA:FALSE\n';
  return {
    server: leaf(
      dir,
      ca,
      'server',
      `${usage}extendedKeyUsage=serverAuth\nsubjectAltName=DNS:${TLS_SERVER_NAME}\n`,
    ),
    client: leaf(dir, ca, 'client', `${usage}extendedKeyUsage=clientAuth\n`),
  };
}
