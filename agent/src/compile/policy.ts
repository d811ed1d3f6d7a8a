// What the proxy needs to enforce policy on each connection: the policies as
// lists and the pods by IP, computed once per snapshot. Pure.
import type { AuthorizationPolicy } from '../policy/authz-types.ts';
import type { NetworkPolicy } from '../policy/netpol-types.ts';
import { clusterIPsOf, podIPsOf } from '../state/addresses.ts';
import type { Labels, Pod, Snapshot } from '../state/types.ts';

export interface PolicyTables {
  readonly networkPolicies: readonly NetworkPolicy[];
  readonly authorizationPolicies: readonly AuthorizationPolicy[];
  readonly namespaces: ReadonlyMap<string, { readonly labels: Labels }>;
  /** Pods by IP, to name the source of a connection. */
  readonly podsByIP: ReadonlyMap<string, Pod>;
  /** Pods by `namespace/name`. */
  readonly pods: ReadonlyMap<string, Pod>;
  /** Each Service by its ClusterIP as `namespace/svc/name` (as `policy trace --to` names it), for flows. */
  readonly servicesByIP: ReadonlyMap<string, string>;
  readonly rootNamespace: string;
  readonly trustDomain: string;
}

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

export const emptyPolicy: PolicyTables = {
  networkPolicies: [],
  authorizationPolicies: [],
  namespaces: new Map(),
  podsByIP: new Map(),
  pods: new Map(),
  servicesByIP: new Map(),
  rootNamespace: 'weft-system',
  trustDomain: 'cluster.local',
};
