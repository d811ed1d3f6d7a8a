// Which API server to talk to: --kubeconfig if given, the pod's own service
// account inside a cluster, else the usual KUBECONFIG / ~/.kube/config.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

export function loadKubeConfig(file?: string): KubeConfig {
  const kc = new KubeConfig();
  if (file) kc.loadFromFile(file);
  else if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
  else {
    // loadFromDefault() falls back to http://localhost:8080, which fails on every request
    // with a message about TLS: better to say here that nothing was configured.
    const candidates = [
      ...(process.env.KUBECONFIG ?? '').split(delimiter).filter(Boolean),
      join(homedir(), '.kube', 'config'),
    ];
    if (!candidates.some((f) => existsSync(f))) {
      throw new Error(
        `no Kubernetes API server configured: not in a cluster, and none of ${candidates.join(', ')} exists (give --kubeconfig)`,
      );
    }
    kc.loadFromDefault();
  }
  if (!kc.getCurrentCluster()) {
    throw new Error(
      `no Kubernetes API server configured${file ? ` in ${file}` : ''} (give --kubeconfig, or run in a cluster)`,
    );
  }
  return kc;
}
