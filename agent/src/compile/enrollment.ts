// Which pods on this node are in the mesh, and where they live. Pure: a
// snapshot in, the node's workload table out.
import { podIPsOf } from '../state/addresses.ts';
import type { Namespace, Pod, Snapshot } from '../state/types.ts';

export const MESH_LABEL = 'weft.dev/mesh';
export const MTLS_LABEL = 'weft.dev/mtls';
/** Where a pod's netns and cgroup are, for sources that know (the sandbox, plain hosts). */
export const NETNS_ANNOTATION = 'weft.dev/netns-path';
export const CGROUP_ANNOTATION = 'weft.dev/cgroup-path';

export interface NodeWorkload {
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  readonly serviceAccount: string;
  readonly podIP?: string;
  /** Every address of the pod (dual stack: one per family), podIP first; each is steered. */
  readonly podIPs: readonly string[];
  readonly netnsPath?: string;
  readonly cgroupDir?: string;
  readonly enrolled: boolean;
  /** Strict mTLS (namespace label or mesh default): plaintext from outside the mesh is refused. */
  readonly strict: boolean;
  /** Why it is (or is not) in the mesh, in words for `weft status`. */
  readonly reason: string;
}

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

function enrollment(ns: Namespace | undefined, pod: Pod): { enrolled: boolean; reason: string } {
  if (pod.labels[MESH_LABEL] === 'disabled')
    return { enrolled: false, reason: `pod label ${MESH_LABEL}=disabled` };
  if (ns?.labels[MESH_LABEL] !== 'enabled') {
    return { enrolled: false, reason: `namespace ${pod.namespace} lacks ${MESH_LABEL}=enabled` };
  }
  if (!pod.podIP) return { enrolled: false, reason: 'no pod IP yet' };
  if (!pod.annotations[NETNS_ANNOTATION] || !pod.annotations[CGROUP_ANNOTATION]) {
    return { enrolled: false, reason: 'netns or cgroup of the pod unknown' };
  }
  return { enrolled: true, reason: `namespace ${pod.namespace} has ${MESH_LABEL}=enabled` };
}

/** The pods scheduled on nodeName, sorted by key, each with its enrollment. */
export function compileWorkloads(
  snap: Snapshot,
  nodeName: string,
  mtlsDefault: MtlsMode = 'permissive',
): NodeWorkload[] {
  const out: NodeWorkload[] = [];
  for (const [key, pod] of snap.pods) {
    if (pod.nodeName !== nodeName) continue;
    const ns = snap.namespaces.get(pod.namespace);
    const e = enrollment(ns, pod);
    out.push({
      key,
      namespace: pod.namespace,
      name: pod.name,
      serviceAccount: pod.serviceAccountName,
      podIP: pod.podIP,
      podIPs: podIPsOf(pod),
      netnsPath: pod.annotations[NETNS_ANNOTATION],
      cgroupDir: pod.annotations[CGROUP_ANNOTATION],
      strict: isStrict(ns, mtlsDefault),
      ...e,
    });
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
