// Kubernetes NetworkPolicy semantics for one connection attempt, with the reason
// spelt out. Pure: the caller supplies the policies, namespaces and both endpoints.

import {
  type ContainerPort,
  contains,
  isIPBlockPeer,
  type Labels,
  NAMESPACE_NAME_LABEL,
  type NetworkPolicy,
  type Peer,
  type PolicyPort,
  type PolicyRule,
  type Protocol,
  policyId,
} from '../state/index.ts';
import { describeSelector, selects } from './selectors.ts';

/** An address, and the pod behind it when it is one (absent: outside the cluster, a node, ...). */
export interface Endpoint {
  readonly ip: string;
  readonly pod?: {
    readonly namespace: string;
    /** Only for reasons. */
    readonly name?: string;
    readonly labels: Labels;
    /** Container ports, against which named policy ports resolve. */
    readonly ports?: readonly ContainerPort[];
  };
}

export type Direction = 'ingress' | 'egress';

export interface NetpolInput {
  readonly policies: readonly NetworkPolicy[];
  /** Labels by namespace name; `kubernetes.io/metadata.name` is implied, as the API server sets it. */
  readonly namespaces: ReadonlyMap<string, { readonly labels: Labels }>;
  readonly direction: Direction;
  /** The pod the policies are about: the source for egress, the destination for ingress. */
  readonly subject: Endpoint;
  /** The other side: the destination for egress, the source for ingress. */
  readonly peer: Endpoint;
  /** Destination port and protocol. */
  readonly port: number;
  readonly protocol: Protocol;
}

export interface NetpolDecision {
  readonly verdict: 'allow' | 'deny';
  /** Some policy selects the subject for this direction, so only its rules allow. */
  readonly isolated: boolean;
  readonly reason: string;
  /** `ns/name` of the policies selecting the subject for this direction, in input order. */
  readonly selectedBy: string[];
  /** The first allowing rule in input order; peer and port are indices in it, absent when the rule lists none (all). */
  readonly matched?: { policy: string; rule: number; peer?: number; port?: number };
}

// Pure and uncached: the proxy decides by lookup in compiled tables
// (compile/decisions.ts) and asks this only to explain a denial; the trace and
// the compilers ask it directly.
export function evaluateNetworkPolicies(input: NetpolInput): NetpolDecision {
  return decide(input);
}

/** The same decision (the compilers' name for it). */
export function decideNetworkPolicies(input: NetpolInput): NetpolDecision {
  return decide(input);
}

function decide(input: NetpolInput): NetpolDecision {
  const { direction, subject } = input;
  const pod = subject.pod;
  if (!pod)
    return {
      verdict: 'allow',
      isolated: false,
      reason: `allowed: ${subject.ip} is not a pod, and NetworkPolicy applies to pods only`,
      selectedBy: [],
    };
  const type = direction === 'ingress' ? 'Ingress' : 'Egress';
  const selecting = input.policies.filter(
    (p) =>
      p.namespace === pod.namespace &&
      p.policyTypes.includes(type) &&
      selects(p.podSelector, pod.labels),
  );
  const selectedBy = selecting.map(policyId);
  if (selecting.length === 0)
    return {
      verdict: 'allow',
      isolated: false,
      reason: `allowed: no policy selects ${who(subject)} for ${direction}`,
      selectedBy,
    };
  const conn = connection(input);
  for (const policy of selecting) {
    const rules = direction === 'ingress' ? policy.ingress : policy.egress;
    for (const [i, rule] of rules.entries()) {
      const m = matchRule(rule, policy, input);
      if (!m) continue;
      const id = policyId(policy);
      const peerKey = direction === 'ingress' ? 'from' : 'to';
      const peerWhy =
        m.peer === undefined
          ? `any ${direction === 'ingress' ? 'source' : 'destination'}`
          : `${peerKey}[${m.peer}] ${describePeer(rule.peers[m.peer]!)}`;
      const portWhy =
        m.port === undefined ? 'any port' : `ports[${m.port}] ${describePort(rule.ports[m.port]!)}`;
      return {
        verdict: 'allow',
        isolated: true,
        reason: `allowed: ${id} ${direction} rule ${i} (${peerWhy}, ${portWhy}) allows ${conn}`,
        selectedBy,
        matched: {
          policy: id,
          rule: i,
          ...(m.peer === undefined ? {} : { peer: m.peer }),
          ...(m.port === undefined ? {} : { port: m.port }),
        },
      };
    }
  }
  const closed = selecting.filter((p) => p.failClosed !== undefined);
  const why = closed.length
    ? ` (${closed.map((p) => `${policyId(p)} fails closed: ${p.failClosed}`).join('; ')})`
    : '';
  return {
    verdict: 'deny',
    isolated: true,
    reason: `denied: ${who(subject)} is selected by ${selectedBy.join(', ')} for ${direction}, and no rule allows ${conn}${why}`,
    selectedBy,
  };
}

/** Which peer and port entries let the connection through; null when the rule does not. */
function matchRule(
  rule: PolicyRule,
  policy: NetworkPolicy,
  input: NetpolInput,
): { peer?: number; port?: number } | null {
  let peer: number | undefined;
  if (rule.peers.length > 0) {
    peer = rule.peers.findIndex((p) => peerMatches(p, policy.namespace, input));
    if (peer < 0) return null;
  }
  let port: number | undefined;
  if (rule.ports.length > 0) {
    port = rule.ports.findIndex((p) => portMatches(p, input));
    if (port < 0) return null;
  }
  return { ...(peer === undefined ? {} : { peer }), ...(port === undefined ? {} : { port }) };
}

function peerMatches(p: Peer, policyNamespace: string, input: NetpolInput): boolean {
  const { peer } = input;
  // ipBlock looks at the address alone, pod or not.
  if (isIPBlockPeer(p))
    return contains(p.ipBlock.cidr, peer.ip) && !p.ipBlock.except.some((e) => contains(e, peer.ip));
  const pod = peer.pod;
  if (!pod) return false;
  if (p.namespaceSelector) {
    if (!selects(p.namespaceSelector, namespaceLabels(input, pod.namespace))) return false;
  } else if (pod.namespace !== policyNamespace) {
    return false;
  }
  return !p.podSelector || selects(p.podSelector, pod.labels);
}

function namespaceLabels(input: NetpolInput, name: string): Labels {
  return { ...input.namespaces.get(name)?.labels, [NAMESPACE_NAME_LABEL]: name };
}

function portMatches(p: PolicyPort, input: NetpolInput): boolean {
  if (p.protocol !== input.protocol) return false;
  if (p.port === undefined) return true;
  if (typeof p.port === 'number')
    return p.endPort === undefined
      ? input.port === p.port
      : input.port >= p.port && input.port <= p.endPort;
  // A named port is the destination pod's; a destination that is no pod has none.
  const dst = input.direction === 'ingress' ? input.subject : input.peer;
  return (dst.pod?.ports ?? []).some(
    (c) => c.name === p.port && c.protocol === p.protocol && c.containerPort === input.port,
  );
}

function who(e: Endpoint): string {
  if (!e.pod) return e.ip;
  return e.pod.name
    ? `${e.pod.namespace}/${e.pod.name} (${e.ip})`
    : `the pod at ${e.ip} in ${e.pod.namespace}`;
}

/** `src → dst:port/proto`. */
function connection(input: NetpolInput): string {
  const [src, dst] =
    input.direction === 'ingress' ? [input.peer, input.subject] : [input.subject, input.peer];
  return `${src.ip} → ${dst.ip}:${input.port}/${input.protocol}`;
}

function describePeer(p: Peer): string {
  if (isIPBlockPeer(p)) {
    const ex = p.ipBlock.except.length > 0 ? ` except ${p.ipBlock.except.join(', ')}` : '';
    return `ipBlock ${p.ipBlock.cidr}${ex}`;
  }
  const parts: string[] = [];
  if (p.namespaceSelector) parts.push(`namespaceSelector ${describeSelector(p.namespaceSelector)}`);
  if (p.podSelector) parts.push(`podSelector ${describeSelector(p.podSelector)}`);
  return parts.join(' and ');
}

function describePort(p: PolicyPort): string {
  if (p.port === undefined) return `any ${p.protocol} port`;
  const range = p.endPort === undefined ? `${p.port}` : `${p.port}-${p.endPort}`;
  return `${range}/${p.protocol}`;
}
