// A Service VIP judged by its endpoints: each endpoint's egress verdict, with the
// evaluator the proxy, the compiler and `weft policy trace` share. Pure.

import {
  type ClusterObjects,
  type Endpoint,
  type Labels,
  type NetworkPolicy,
  type Pod,
  type Protocol,
  podIPsOf,
  type ServiceTarget,
} from '../state/index.ts';
import type { PolicyTables } from '../tables/index.ts';
import { decideNetworkPolicies, type Endpoint as PeerEndpoint } from './netpol-eval.ts';

export interface JudgedEndpoint {
  readonly endpoint: Endpoint;
  readonly allow: boolean;
  /** The evaluator's words, naming the policy and rule. */
  readonly reason: string;
  /** `namespace/name` of the allowing policy and its rule index, when one allows. */
  readonly matched?: { readonly policy: string; readonly rule: number };
  /** The policies selecting the source for egress. */
  readonly selectedBy: readonly string[];
}

/** What the policy evaluators need of the cluster, to judge a source's connections. */
export interface EgressView {
  readonly policies: readonly NetworkPolicy[];
  readonly namespaces: ReadonlyMap<string, { readonly labels: Labels }>;
  readonly podsByIP: ReadonlyMap<string, Pod>;
}

/** The peer an endpoint is to the evaluator: the pod at its address, if any (as the proxy names it). */
function peerOf(view: EgressView, ip: string): PeerEndpoint {
  const p = view.podsByIP.get(ip);
  return p
    ? { ip, pod: { namespace: p.namespace, name: p.name, labels: p.labels, ports: p.ports } }
    : { ip };
}

export type Subject = { namespace: string; labels: Labels; name?: string; ip?: string };

export function subjectOf(s: Subject): PeerEndpoint {
  return {
    ip: s.ip ?? '',
    pod: { namespace: s.namespace, labels: s.labels, ...(s.name ? { name: s.name } : {}) },
  };
}

export function decide(
  view: EgressView,
  src: PeerEndpoint,
  e: Endpoint,
  protocol: Protocol = 'TCP',
) {
  return decideNetworkPolicies({
    policies: view.policies,
    namespaces: view.namespaces,
    direction: 'egress',
    subject: src,
    peer: peerOf(view, e.ip),
    port: e.port,
    protocol,
  });
}

/** Each endpoint's egress verdict for a connection from `subject` to it on its targetPort. */
export function judgeEndpoints(
  view: EgressView,
  subject: Subject,
  endpoints: readonly Endpoint[],
  protocol: Protocol = 'TCP',
): JudgedEndpoint[] {
  const src = subjectOf(subject);
  return endpoints.map((endpoint) => {
    const d = decide(view, src, endpoint, protocol);
    return {
      endpoint,
      allow: d.verdict === 'allow',
      reason: d.reason,
      ...(d.matched ? { matched: { policy: d.matched.policy, rule: d.matched.rule } } : {}),
      selectedBy: d.selectedBy,
    };
  });
}

/** The evaluators' view of a snapshot (uncached: a compiler keeps it per snapshot). */
export function egressView(objects: ClusterObjects): EgressView {
  const podsByIP = new Map<string, Pod>();
  for (const p of objects.pods.values()) for (const ip of podIPsOf(p)) podsByIP.set(ip, p);
  return {
    policies: [...(objects.networkPolicies?.values() ?? [])],
    namespaces: objects.namespaces,
    podsByIP,
  };
}

/** The proxy's choice for one source: the endpoints of a VIP port its egress policy allows. */
export function allowedTarget(
  t: PolicyTables,
  srcKey: string,
  target: ServiceTarget,
): ServiceTarget {
  const src = t.pods.get(srcKey);
  if (!src || t.networkPolicies.length === 0) return target;
  const view = { policies: t.networkPolicies, namespaces: t.namespaces, podsByIP: t.podsByIP };
  const judged = judgeEndpoints(
    view,
    { namespace: src.namespace, labels: src.labels, name: src.name, ip: src.podIP ?? '' },
    target.endpoints,
  );
  if (judged.every((j) => j.allow)) return target;
  return { ...target, endpoints: judged.filter((j) => j.allow).map((j) => j.endpoint) };
}
