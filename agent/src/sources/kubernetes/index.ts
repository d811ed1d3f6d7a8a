// The cluster source: informers over the Kubernetes API, its objects through the shared parsers.
export { isLivePod, normalize, type RawObject } from './convert.ts';
export type { ListResult } from './informer.ts';
export { type InformerOptions, ResourceInformer, statusOf } from './informer.ts';
export { loadKubeConfig } from './kubeconfig.ts';
export { kubernetesOnNode } from './on-node.ts';
