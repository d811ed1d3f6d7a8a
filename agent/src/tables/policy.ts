// What the proxy needs to enforce policy on each connection: the policies as
// lists and the pods by IP, computed once per snapshot.
import { TRUST_DOMAIN, WEFT_NAMESPACE } from '../config/index.ts';
import type { AuthorizationPolicy, Labels, NetworkPolicy, Pod } from '../state/index.ts';

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

export const emptyPolicy: PolicyTables = {
  networkPolicies: [],
  authorizationPolicies: [],
  namespaces: new Map(),
  podsByIP: new Map(),
  pods: new Map(),
  servicesByIP: new Map(),
  rootNamespace: WEFT_NAMESPACE,
  trustDomain: TRUST_DOMAIN,
};
