// The CA kept in a Kubernetes Secret (the issuer on a cluster), in the layout
// cert-manager writes: tls.crt (the signing CA, then any intermediates above
// it), tls.key, ca.crt (the trusted roots). Generated and stored on first start
// unless the Secret is provided (existing: true, e.g. by cert-manager). The
// roots are published in a ConfigMap that agents mount to verify the issuer.
import { CoreV1Api, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import { CertificateAuthority, generateRootCA } from '../../identity/ca/index.ts';
import { statusOf } from '../../sources/kubernetes/index.ts';
import { type CaStore, splitPem } from '../ca-store.ts';

/** The labels of the CA Secret weft writes. */
const SECRET_LABELS = { 'app.kubernetes.io/part-of': 'weft' };

export interface SecretCaOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  readonly secretName: string;
  /** ConfigMap the roots are published in (key root.pem). */
  readonly rootConfigMap: string;
  readonly trustDomain: string;
  /** The Secret is someone else's (cert-manager): never create it, only read it. */
  readonly existing?: boolean;
  readonly log?: (line: string) => void;
}

export const ROOT_KEY = 'root.pem';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined) => (s ? Buffer.from(s, 'base64').toString('utf8') : '');

interface CaMaterial {
  certPem: string;
  keyPem: string;
  chainPem: string[];
  roots: string[];
}

/** A Secret's data → the CA's parts, or an error naming the Secret and key. Pure. */
export function readCaSecret(secret: V1Secret, where: string): CaMaterial {
  const data = secret.data ?? {};
  const certs = splitPem(unb64(data['tls.crt']));
  const keyPem = unb64(data['tls.key']);
  if (certs.length === 0) throw new Error(`Secret ${where}: tls.crt holds no certificate`);
  if (!keyPem.includes('PRIVATE KEY'))
    throw new Error(`Secret ${where}: tls.key holds no private key`);
  const roots = splitPem(unb64(data['ca.crt']));
  // Without ca.crt the signing CA must itself be the root.
  return {
    certPem: certs[0]!,
    keyPem,
    chainPem: certs.slice(1),
    roots: roots.length > 0 ? roots : [certs[0]!],
  };
}

export async function openSecretCaStore(opts: SecretCaOptions): Promise<CaStore> {
  const core = opts.kubeConfig.makeApiClient(CoreV1Api);
  const where = `${opts.namespace}/${opts.secretName}`;
  const log = opts.log ?? (() => {});

  const fetch = async (): Promise<V1Secret | undefined> => {
    try {
      return await core.readNamespacedSecret({ name: opts.secretName, namespace: opts.namespace });
    } catch (e) {
      if (statusOf(e) === 404) return undefined;
      throw new Error(`reading Secret ${where}: ${(e as Error).message}`);
    }
  };

  let secret = await fetch();
  if (!secret) {
    if (opts.existing)
      throw new Error(
        `Secret ${where} does not exist (it is to be provided, e.g. by cert-manager)`,
      );
    const root = await generateRootCA({ trustDomain: opts.trustDomain });
    try {
      secret = await core.createNamespacedSecret({
        namespace: opts.namespace,
        body: {
          metadata: { name: opts.secretName, labels: SECRET_LABELS },
          type: 'kubernetes.io/tls',
          data: {
            'tls.crt': b64(root.certPem),
            'tls.key': b64(root.keyPem),
            'ca.crt': b64(root.certPem),
          },
        },
      });
      log(`generated a root CA for ${opts.trustDomain}, stored in Secret ${where}`);
    } catch (e) {
      // Another replica stored one first: use that one, so there is a single root.
      if (statusOf(e) !== 409) throw new Error(`creating Secret ${where}: ${(e as Error).message}`);
      secret = await fetch();
      if (!secret) throw new Error(`Secret ${where} conflicted on create, then vanished`);
    }
  }

  const load = async (s: V1Secret) => {
    const m = readCaSecret(s, where);
    const ca = await CertificateAuthority.load({
      certPem: m.certPem,
      keyPem: m.keyPem,
      chainPem: m.chainPem,
      trustDomain: opts.trustDomain,
    });
    if (ca.trustDomain !== opts.trustDomain)
      throw new Error(
        `Secret ${where}: CA is for trust domain ${ca.trustDomain}, not ${opts.trustDomain}`,
      );
    return { ca, roots: m.roots };
  };

  let current = await load(secret);
  await publishRoots(core, opts, current.roots);
  const store: CaStore = {
    ca: current.ca,
    roots: () => current.roots,
    async reload() {
      const s = await fetch();
      if (!s) throw new Error(`Secret ${where} is gone; keeping the CA in memory`);
      current = await load(s);
      store.ca = current.ca;
      await publishRoots(core, opts, current.roots);
    },
  };
  return store;
}

async function publishRoots(
  core: CoreV1Api,
  opts: SecretCaOptions,
  roots: string[],
): Promise<void> {
  const name = opts.rootConfigMap;
  const namespace = opts.namespace;
  const want = roots.join('');
  try {
    const cm = await core.readNamespacedConfigMap({ name, namespace });
    if (cm.data?.[ROOT_KEY] === want) return;
    await core.replaceNamespacedConfigMap({
      name,
      namespace,
      body: { ...cm, data: { ...cm.data, [ROOT_KEY]: want } },
    });
  } catch (e) {
    if (statusOf(e) !== 404)
      throw new Error(
        `publishing roots in ConfigMap ${namespace}/${name}: ${(e as Error).message}`,
      );
    await core.createNamespacedConfigMap({
      namespace,
      body: {
        metadata: { name, labels: SECRET_LABELS },
        data: { [ROOT_KEY]: want },
      },
    });
  }
}
