// The labels and annotations weft reads on namespaces and pods, and the one rule
// each compiler, source and the trace apply to them.
import type { Namespace, Pod } from './types.ts';

export const MESH_LABEL = 'weft.dev/mesh';
export const MTLS_LABEL = 'weft.dev/mtls';
/** Where a pod's netns and cgroup are, for sources that know (the sandbox, plain hosts). */
export const NETNS_ANNOTATION = 'weft.dev/netns-path';
export const CGROUP_ANNOTATION = 'weft.dev/cgroup-path';
/** The label Kubernetes gives every namespace: its own name (namespace selectors match on it). */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

export type MtlsMode = 'strict' | 'permissive';

/** A namespace's mTLS mode: its weft.dev/mtls label, else the mesh-wide default. */
export function isStrict(ns: Namespace | undefined, mtlsDefault: MtlsMode = 'permissive'): boolean {
  const label = ns?.labels[MTLS_LABEL];
  return label === 'strict' || (label !== 'permissive' && mtlsDefault === 'strict');
}

/** Whether a pod is in the mesh by its labels alone (placement aside): one rule for every compiler. */
export function inMesh(ns: Namespace | undefined, pod: Pod): boolean {
  return pod.labels[MESH_LABEL] !== 'disabled' && ns?.labels[MESH_LABEL] === 'enabled';
}
