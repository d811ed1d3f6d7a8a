// Every mesh pod in the cluster by IP, with its identity: the outbound proxy
// asks this whether a destination speaks HBONE and whom to expect there. Pure.
import { spiffeId } from '../identity/spiffe.ts';
import type { Snapshot } from '../state/types.ts';
import { inMesh } from './enrollment.ts';

export interface MeshPeer {
  /** namespace/name */
  readonly key: string;
  readonly ip: string;
  readonly node: string;
  readonly identity: string;
}

export function compilePeers(snap: Snapshot, trustDomain: string): Map<string, MeshPeer> {
  const out = new Map<string, MeshPeer>();
  for (const [key, pod] of snap.pods) {
    if (!pod.podIP || !inMesh(snap.namespaces.get(pod.namespace), pod)) continue;
    out.set(pod.podIP, {
      key,
      ip: pod.podIP,
      node: pod.nodeName,
      identity: spiffeId(trustDomain, pod.namespace, pod.serviceAccountName),
    });
  }
  return out;
}
