// Policy at the proxy asked of the evaluators (the ones `weft policy trace`
// explains with): egress NetworkPolicy for an enrolled source, ingress
// NetworkPolicy and AuthorizationPolicy for an enrolled destination. The proxy
// decides by lookup (decide.ts) and asks these for the words of a denial, or
// to decide where a caller gives it no decision table.

import { parseSpiffeId, principal } from '../identity/spiffe/index.ts';
import {
  evaluateAuthorization,
  evaluateNetworkPolicies,
  podEndpoint,
  servesHttp,
} from '../policy/index.ts';
import type { AuthzRequest } from '../state/index.ts';
import type { PolicyTables } from '../tables/index.ts';

export interface Verdict {
  readonly allow: boolean;
  readonly stage: 'egress NetworkPolicy' | 'ingress NetworkPolicy' | 'AuthorizationPolicy';
  readonly policy?: string;
  readonly rule?: number;
  readonly reason: string;
  /** AUDIT rules that matched: `ns/name rule N`; they never change the verdict. */
  readonly audited?: readonly string[];
}

const ALLOWED: Verdict = { allow: true, stage: 'AuthorizationPolicy', reason: 'allowed' };

/** The pod at ip, by the address the connection used (a dual-stack pod has two; ipBlocks see this one). */
function endpointOf(t: PolicyTables, ip: string) {
  const p = t.podsByIP.get(ip);
  return p ? podEndpoint(p, ip) : { ip };
}

/** May the enrolled pod `srcKey` open a connection to ip:port? */
export function checkEgress(t: PolicyTables, srcKey: string, dstIp: string, port: number): Verdict {
  const src = t.pods.get(srcKey);
  if (!src || t.networkPolicies.length === 0) return ALLOWED;
  const d = evaluateNetworkPolicies({
    policies: t.networkPolicies,
    namespaces: t.namespaces,
    direction: 'egress',
    subject: podEndpoint(src),
    peer: endpointOf(t, dstIp),
    port,
    protocol: 'TCP',
  });
  return {
    allow: d.verdict === 'allow',
    stage: 'egress NetworkPolicy',
    policy: d.matched?.policy ?? d.selectedBy.join(', '),
    reason: d.reason,
  };
}

/**
 * May this source reach the enrolled pod `dstKey` on `port`? `identity` is the
 * verified SPIFFE ID of an mTLS peer, absent for plaintext.
 */
export function checkIngress(
  t: PolicyTables,
  dstKey: string,
  src: { ip: string; identity?: string },
  port: number,
  http?: AuthzRequest | 'per-request',
): Verdict {
  const dst = t.pods.get(dstKey);
  if (!dst) return ALLOWED;
  if (t.networkPolicies.length > 0) {
    const d = evaluateNetworkPolicies({
      policies: t.networkPolicies,
      namespaces: t.namespaces,
      direction: 'ingress',
      subject: podEndpoint(dst),
      peer: endpointOf(t, src.ip),
      port,
      protocol: 'TCP',
    });
    if (d.verdict === 'deny') {
      return {
        allow: false,
        stage: 'ingress NetworkPolicy',
        policy: d.selectedBy.join(', '),
        reason: d.reason,
      };
    }
  }
  // HTTP rules are decided per request by the L7 path (checkRequest), not per connection.
  if (t.authorizationPolicies.length === 0 || http === 'per-request') return ALLOWED;
  let source: { ip: string; principal?: string; namespace?: string } = { ip: src.ip };
  if (src.identity) {
    try {
      source = {
        ip: src.ip,
        principal: principal(src.identity),
        namespace: parseSpiffeId(src.identity).namespace,
      };
    } catch {
      // Not a workload identity: treated as no identity, which no principal rule matches.
    }
  }
  const a = evaluateAuthorization({
    policies: t.authorizationPolicies,
    rootNamespace: t.rootNamespace,
    workload: { namespace: dst.namespace, labels: { ...dst.labels } },
    source,
    destination: { ip: dst.podIP ?? '', port },
    ...(http ? { http } : {}),
  });
  const decided = a.stages.find(
    (s) => s.stage !== 'AUDIT' && (s.result === 'match' || s.result === 'default-deny'),
  );
  return {
    allow: a.verdict === 'allow',
    stage: 'AuthorizationPolicy',
    ...(decided?.policy ? { policy: decided.policy } : {}),
    ...(decided?.rule !== undefined ? { rule: decided.rule } : {}),
    reason: decided?.reason ?? (a.verdict === 'allow' ? 'allowed' : 'denied'),
    ...(a.audited.length ? { audited: a.audited.map((x) => `${x.policy} rule ${x.rule}`) } : {}),
  };
}

/** The access log's words for a denial. */
export function denial(v: Verdict): string {
  const by = v.policy ? ` (${v.policy}${v.rule !== undefined ? ` rule ${v.rule}` : ''})` : '';
  return `denied by ${v.stage}${by}: ${v.reason}`;
}

/**
 * Whether connections to the workload's `port` are read as HTTP, request by request
 * (policy/authz-l7.ts says when): a workload's other ports stay byte for byte. The
 * proxy looks this up in the workload's decision table; this asks the evaluator.
 */
export function needsHttp(t: PolicyTables, dstKey: string, port: number): boolean {
  const dst = t.pods.get(dstKey);
  return dst !== undefined && servesHttp(t.authorizationPolicies, t.rootNamespace, dst, port);
}

/** One HTTP request to an enrolled workload: AuthorizationPolicy with the request's method, path, host and headers. */
export function checkRequest(
  t: PolicyTables,
  dstKey: string,
  src: { ip: string; identity?: string },
  port: number,
  http: AuthzRequest,
): Verdict {
  return checkIngress({ ...t, networkPolicies: [] }, dstKey, src, port, http);
}
