// The issuer's view of a Kubernetes cluster: which service accounts run on
// which node. One informer on every pod; nothing else is needed to authorize.
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import {
  type InformerOptions,
  isLivePod,
  normalize,
  ResourceInformer,
} from '../../sources/kubernetes/index.ts';
import { parseObjects } from '../../sources/manifests/index.ts';
import type { ClusterObjects, Pod } from '../../state/index.ts';

export class IssuerCluster {
  private readonly pods: ResourceInformer;
  private cached: ClusterObjects | undefined;

  constructor(kc: KubeConfig, opts: InformerOptions & { log?: (l: string) => void } = {}) {
    const core = kc.makeApiClient(CoreV1Api);
    this.pods = new ResourceInformer(
      kc,
      {
        path: '/api/v1/pods',
        kind: 'Pod',
        apiVersion: 'v1',
        list: () => core.listPodForAllNamespaces(),
      },
      opts,
    );
    this.pods.on('change', () => {
      this.cached = undefined;
    });
    this.pods.on('error', (e) => opts.log?.(`pods: ${e.message}`));
  }

  start(): Promise<void> {
    return this.pods.start();
  }

  get ready(): boolean {
    return this.pods.synced;
  }

  /** Live pods only: a finished pod's service account no longer runs on its node. */
  objects(): ClusterObjects {
    if (!this.cached) {
      const raw = this.pods
        .items()
        .map((o) => normalize(o, 'Pod', 'v1'))
        .filter(isLivePod);
      const pods = new Map<string, Pod>();
      for (const o of parseObjects('kubernetes:/api/v1/pods', raw).objects) {
        if (o.kind === 'Pod') pods.set(`${o.value.namespace}/${o.value.name}`, o.value);
      }
      this.cached = { namespaces: new Map(), pods, services: new Map() };
    }
    return this.cached;
  }

  podNode(namespace: string, name: string): string | undefined {
    return this.objects().pods.get(`${namespace}/${name}`)?.nodeName || undefined;
  }

  close(): void {
    this.pods.stop();
  }
}
