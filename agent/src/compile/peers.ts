// Every mesh pod in the cluster by IP, with its identity: the outbound proxy
// asks this whether a destination speaks HBONE and whom to expect there. Pure.
import { spiffeId } from '../identity/spiffe/index.ts';
import { inMesh, podIPsOf, type Snapshot } from '../state/index.ts';
import type { MeshPeer } from '../tables/index.ts';

export type { MeshPeer } from '../tables/index.ts';

export function compilePeers(snap: Snapshot, trustDomain: string): Map<string, MeshPeer> {
  const out = new Map<string, MeshPeer>();
  for (const [key, pod] of snap.pods) {
    const ips = podIPsOf(pod);
    if (ips.length === 0 || !inMesh(snap.namespaces.get(pod.namespace), pod)) continue;
    // Every address of a dual-stack pod leads to the same peer.
    const peer: MeshPeer = {
      key,
      ip: ips[0]!,
      node: pod.nodeName,
      identity: spiffeId(trustDomain, pod.namespace, pod.serviceAccountName),
    };
    for (const ip of ips) out.set(ip, peer);
  }
  return out;
}
