// The Kubernetes source as an agent on a node runs it: the API server's view,
// with this node's pods located in the kernel by discovery. Loaded only by
// `weft agent --kubernetes`, so other agents never load the API client.
import { PodDiscovery } from '../../discovery/index.ts';
import { loadKubeConfig } from './kubeconfig.ts';
import { KernelPodLocator } from './locator.ts';
import { KubernetesSource } from './source.ts';

export interface OnNodeOptions {
  kubeconfig?: string;
  node: string;
  /** The host's cgroup2 mount as the agent sees it. */
  cgroupRoot: string;
  /** The host's /proc as the agent sees it. */
  procRoot: string;
  log: (line: string) => void;
}

export function kubernetesOnNode(o: OnNodeOptions): { source: KubernetesSource; close(): void } {
  const kubeConfig = loadKubeConfig(o.kubeconfig);
  const locator = new KernelPodLocator(
    new PodDiscovery({ cgroupRoot: o.cgroupRoot, procRoot: o.procRoot }),
    { log: o.log },
  );
  const source = new KubernetesSource({ kubeConfig, node: o.node, locator });
  return { source, close: () => locator.close() };
}
