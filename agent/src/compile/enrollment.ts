// Which pods on this node are in the mesh, and where they live. Pure: a
// snapshot in, the node's workload table out.

import {
  CGROUP_ANNOTATION,
  isStrict,
  MESH_LABEL,
  type MtlsMode,
  type Namespace,
  NETNS_ANNOTATION,
  type Pod,
  podIPsOf,
  type Snapshot,
} from '../state/index.ts';
import type { NodeWorkload } from '../tables/index.ts';

export {
  CGROUP_ANNOTATION,
  inMesh,
  isStrict,
  MESH_LABEL,
  MTLS_LABEL,
  type MtlsMode,
  NETNS_ANNOTATION,
} from '../state/index.ts';
export type { NodeWorkload } from '../tables/index.ts';

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
