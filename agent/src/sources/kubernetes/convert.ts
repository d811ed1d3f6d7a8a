// API objects → the state store's objects. Pure. The objects go through the
// same parser as manifest files (same checks, same errors); what only the
// cluster knows is settled here first:
// - list items carry no kind/apiVersion on the wire: the resource supplies them;
// - a pod's netns and cgroup come from discovery on this node, never from the
//   pod's own annotations (a pod could name another pod's netns there);
// - hostNetwork pods share the node's netns and are never enrolled.
import { CGROUP_ANNOTATION, NETNS_ANNOTATION } from '../../state/index.ts';

// biome-ignore lint/suspicious/noExplicitAny: API JSON of many kinds; the parser checks each field it reads
export type RawObject = Record<string, any>;

/** Where a pod of this node lives in the kernel, as discovery found it. */
export interface PodLocation {
  readonly netnsPath: string;
  readonly cgroupDir: string;
}

/** Plain JSON (no class instances, Dates or undefined members), typed with kind/apiVersion. */
export function normalize(o: object, kind: string, apiVersion: string): RawObject {
  const plain = JSON.parse(JSON.stringify(o)) as RawObject;
  plain.kind = kind;
  plain.apiVersion = apiVersion;
  return plain;
}

/** A pod as the state store should see it: discovered location in, forged annotations out. */
export function withLocation(pod: RawObject, where: PodLocation | undefined): RawObject {
  const annotations = { ...(pod.metadata?.annotations ?? {}) } as Record<string, string>;
  delete annotations[NETNS_ANNOTATION];
  delete annotations[CGROUP_ANNOTATION];
  if (where && pod.spec?.hostNetwork !== true) {
    annotations[NETNS_ANNOTATION] = where.netnsPath;
    annotations[CGROUP_ANNOTATION] = where.cgroupDir;
  }
  return { ...pod, metadata: { ...pod.metadata, annotations } };
}

/**
 * A hostNetwork pod's IP is its node's: taken as the pod's, it would make every process on
 * that node (kubelet included) that pod for NetworkPolicy peers, and send mesh traffic for
 * the node's address through HBONE. Such a pod keeps its labels but has no IP of its own here.
 */
export function withoutNodeAddress(pod: RawObject): RawObject {
  if (pod.spec?.hostNetwork !== true || !pod.status) return pod;
  const { podIP: _ip, podIPs: _ips, ...status } = pod.status as RawObject;
  return { ...pod, status };
}

/** Finished pods hold no addresses and no sockets: they are not part of the mesh. */
export function isLivePod(pod: RawObject): boolean {
  const phase = pod.status?.phase;
  return phase !== 'Succeeded' && phase !== 'Failed';
}

/** A pod's UID and QoS class, which locate its cgroup on the node. */
export function podKey(pod: RawObject): { uid: string; qosClass: string } | undefined {
  const uid = pod.metadata?.uid;
  if (typeof uid !== 'string' || uid === '') return undefined;
  const qos = pod.status?.qosClass;
  return { uid, qosClass: typeof qos === 'string' ? qos : 'BestEffort' };
}
