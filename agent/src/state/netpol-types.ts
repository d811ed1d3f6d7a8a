// Kubernetes NetworkPolicy (networking.k8s.io/v1) after parsing: validated, with
// Kubernetes' defaults applied, so the evaluator never guesses.
import type { LabelSelector } from './selectors.ts';

export type PolicyType = 'Ingress' | 'Egress';
export type Protocol = 'TCP' | 'UDP' | 'SCTP';

export interface IPBlock {
  /** As written (host bits may be set; they are ignored, as in Kubernetes). */
  readonly cidr: string;
  /** Each a strict subset of cidr. */
  readonly except: readonly string[];
}

/**
 * podSelector alone: pods of the policy's namespace; namespaceSelector alone: all pods of the
 * matching namespaces; both: the matching pods of the matching namespaces. At least one is set.
 */
export interface SelectorPeer {
  readonly podSelector?: LabelSelector;
  readonly namespaceSelector?: LabelSelector;
}

export interface IPBlockPeer {
  readonly ipBlock: IPBlock;
}

export type Peer = SelectorPeer | IPBlockPeer;

export interface PolicyPort {
  /** TCP when the manifest names none. */
  readonly protocol: Protocol;
  /** A number, or the name of a container port of the destination pod; absent: every port. */
  readonly port?: number | string;
  /** With a numeric port only: the range port..endPort, inclusive. */
  readonly endPort?: number;
}

export interface PolicyRule {
  /** `from` (ingress) or `to` (egress); empty: every peer. */
  readonly peers: readonly Peer[];
  /** Empty: every port of every protocol. */
  readonly ports: readonly PolicyPort[];
}

export type IngressRule = PolicyRule;
export type EgressRule = PolicyRule;

export interface NetworkPolicy {
  readonly namespace: string;
  readonly name: string;
  /** Pods of `namespace` the policy applies to; `{}` selects all of them. */
  readonly podSelector: LabelSelector;
  /** Defaulted as Kubernetes does: Ingress, plus Egress when spec.egress has rules. */
  readonly policyTypes: readonly PolicyType[];
  readonly ingress: readonly IngressRule[];
  readonly egress: readonly EgressRule[];
  /**
   * Set on the stand-in of a policy weft rejected (SCTP, a field it does not know): the
   * reason. The stand-in has no rules, so it denies all traffic of its policyTypes to and
   * from the pods it selects, until the policy is fixed (fail closed).
   */
  readonly failClosed?: string;
}

/** `namespace/name`, the policy's name in decisions and errors. */
export function policyId(p: Pick<NetworkPolicy, 'namespace' | 'name'>): string {
  return `${p.namespace}/${p.name}`;
}

export function isIPBlockPeer(p: Peer): p is IPBlockPeer {
  return 'ipBlock' in p;
}
