// Kubernetes NetworkPolicy: types and evaluation (and the selector and CIDR helpers
// they rest on). The parser is sources/policy/netpol-parse.ts.

export type { Address, Cidr, Family } from '../state/index.ts';
export {
  contains,
  type EgressRule,
  type IngressRule,
  type IPBlock,
  type IPBlockPeer,
  isIPBlockPeer,
  isSubnet,
  type NetworkPolicy,
  type Peer,
  type PolicyPort,
  type PolicyRule,
  type PolicyType,
  type Protocol,
  parseCidr,
  parseIP,
  policyId,
  type SelectorPeer,
} from '../state/index.ts';
export {
  type Direction,
  type Endpoint,
  evaluateNetworkPolicies,
  type NetpolDecision,
  type NetpolInput,
} from './netpol-eval.ts';
export {
  describeSelector,
  type LabelSelector,
  type LabelSelectorRequirement,
  type SelectorOperator,
  selects,
} from './selectors.ts';
