// What the proxy needs to enforce policy on each connection: the policies as
// lists and the pods by IP, computed once per snapshot. Pure.

import { clusterIPsOf, type Pod, podIPsOf, type Snapshot } from '../state/index.ts';
import type { PolicyTables } from '../tables/index.ts';

export { emptyPolicy, type PolicyTables } from '../tables/index.ts';

export function compilePolicy(
  snap: Snapshot,
  trustDomain: string,
  rootNamespace: string,
): PolicyTables {
  const podsByIP = new Map<string, Pod>();
  for (const p of snap.pods.values()) for (const ip of podIPsOf(p)) podsByIP.set(ip, p);
  const servicesByIP = new Map<string, string>();
  for (const s of snap.services.values())
    for (const ip of clusterIPsOf(s)) servicesByIP.set(ip, `${s.namespace}/svc/${s.name}`);
  return {
    networkPolicies: [...(snap.networkPolicies?.values() ?? [])],
    authorizationPolicies: [...(snap.authorizationPolicies?.values() ?? [])],
    namespaces: new Map([...snap.namespaces].map(([n, v]) => [n, { labels: v.labels }])),
    podsByIP,
    pods: snap.pods,
    servicesByIP,
    rootNamespace,
    trustDomain,
  };
}
