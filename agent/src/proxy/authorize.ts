// Policy at the proxy, per connection (never per chunk): egress NetworkPolicy
// for an enrolled source, ingress NetworkPolicy and AuthorizationPolicy (L4)
// for an enrolled destination. The evaluators are the ones `weft policy trace`
// explains with.

import { parseSpiffeId, principal } from '../identity/spiffe/index.ts';
import {
  applies,
  evaluateAuthorization,
  evaluateNetworkPolicies,
  hasHttpFields,
  podEndpoint,
  servesHttp,
} from '../policy/index.ts';
import type { AuthzRequest, Pod } from '../state/index.ts';
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
 * (policy/authz-l7.ts says when): a workload's other ports stay byte for byte.
 */
export function needsHttp(t: PolicyTables, dstKey: string, port: number): boolean {
  // Asked on every connection: answered once per (workload, port) per snapshot, without
  // building a key; a workload no HTTP rule applies to is answered once for all its ports.
  let known = httpCache.get(t);
  if (!known) {
    known = { size: 0, workloads: new Map() };
    httpCache.set(t, known);
  }
  let ports = known.workloads.get(dstKey);
  if (ports === undefined) {
    const dst = t.pods.get(dstKey);
    const any =
      dst !== undefined && t.authorizationPolicies.length > 0 && servesHttpSomewhere(t, dst);
    ports = any ? new Map<number, boolean>() : null;
    known.workloads.set(dstKey, ports);
  }
  if (ports === null) return false;
  const have = ports.get(port);
  if (have !== undefined) return have;
  const dst = t.pods.get(dstKey)!;
  const v = servesHttp(t.authorizationPolicies, t.rootNamespace, dst, port);
  // A port scan must not grow the cache without end: it starts over past the bound.
  if (known.size >= HTTP_CACHE_MAX) {
    for (const m of known.workloads.values()) m?.clear();
    known.size = 0;
  }
  ports.set(port, v);
  known.size++;
  return v;
}

/** Whether any rule with HTTP fields applies to the pod at all (on some port). */
function servesHttpSomewhere(t: PolicyTables, dst: Pod): boolean {
  return t.authorizationPolicies.some(
    (p) =>
      applies(p, { workload: dst, rootNamespace: t.rootNamespace }) &&
      (p.rules ?? []).some(hasHttpFields),
  );
}

const httpCache = new WeakMap<
  PolicyTables,
  { size: number; workloads: Map<string, Map<number, boolean> | null> }
>();
const HTTP_CACHE_MAX = 65_536;

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
