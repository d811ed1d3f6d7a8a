// Which API server to talk to: --kubeconfig if given, the pod's own service
// account inside a cluster, else the usual KUBECONFIG / ~/.kube/config.
import { KubeConfig } from '@kubernetes/client-node';

export function loadKubeConfig(file?: string): KubeConfig {
  const kc = new KubeConfig();
  if (file) kc.loadFromFile(file);
  else if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
  else kc.loadFromDefault();
  if (!kc.getCurrentCluster()) {
    throw new Error(
      `no Kubernetes API server configured${file ? ` in ${file}` : ''} (give --kubeconfig, or run in a cluster)`,
    );
  }
  return kc;
}
