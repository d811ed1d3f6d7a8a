// The proxy's per-connection and per-request decisions: lookups in the tables
// compileNode made for each enrolled workload (tables/decisions.ts). Nothing is
// explained here: a denial's words come from the evaluators (authorize.ts),
// after the fact, so an allowed connection or request builds no string.

import { type AuthzRequest, contains } from '../state/index.ts';
import {
  type AuthzTable,
  allowingRule,
  type CompiledAuthzRule,
  type CompiledCondition,
  type CompiledOperation,
  type CompiledSource,
  type EgressDecisions,
  type IngressDecisions,
  type Lists,
  type NamespaceMatcher,
  type NodeDecisions,
  type PolicyTables,
  type PortDecisions,
  type StringMatcher,
} from '../tables/index.ts';
import { checkEgress, checkIngress, checkRequest, type Verdict } from './authorize.ts';

/** A connection's source: its address and, over mutual TLS, its identity parsed once. */
export interface Source {
  readonly ip: string;
  /** The peer's SPIFFE ID. */
  readonly identity?: string;
  /** Istio's principal (`td/ns/x/sa/y`) and namespace of `identity`; absent for a non-workload ID. */
  readonly principal?: string;
  readonly namespace?: string;
}

/** A request as the rules read it: path without its query, host in lower case. */
interface Request {
  readonly method: string;
  readonly path: string;
  readonly host: string;
  readonly headers: Readonly<Record<string, string>>;
}

function str(m: StringMatcher, v: string | undefined): boolean {
  if (v === undefined) return false;
  switch (m.kind) {
    case 'any':
      return true;
    case 'present':
      return v !== '';
    case 'suffix':
      return v.endsWith(m.s);
    case 'prefix':
      return v.startsWith(m.s);
    case 'exact':
      return v === m.s;
  }
}

/** A namespace glob (policy/authz-match.ts matchNamespace), split at its `*`s when compiled. */
function nsMatch(parts: NamespaceMatcher, v: string | undefined): boolean {
  if (v === undefined) return false;
  if (parts.length === 1) return v === parts[0];
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  if (!v.startsWith(first)) return false;
  let at = first.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const found = v.indexOf(parts[i]!, at);
    if (found < 0) return false;
    at = found + parts[i]!.length;
  }
  return v.length - last.length >= at && v.endsWith(last);
}

function holds<T, V>(l: Lists<T>, v: V, test: (m: T, v: V) => boolean): boolean {
  if (l.values !== null) {
    let any = false;
    for (const m of l.values)
      if (test(m, v)) {
        any = true;
        break;
      }
    if (!any) return false;
  }
  for (const m of l.notValues) if (test(m, v)) return false;
  return true;
}

const ipIn = (c: Parameters<typeof contains>[0] | null, ip: string) =>
  c !== null && contains(c, ip);
const exact = (m: string, v: string) => m === v;

function sourceHolds(s: CompiledSource, src: Source): boolean {
  return (
    holds(s.principals, src.principal, str) &&
    holds(s.namespaces, src.namespace, nsMatch) &&
    holds(s.ipBlocks, src.ip, ipIn)
  );
}

function operationHolds(o: CompiledOperation, req: Request): boolean {
  return (
    holds(o.methods, req.method, exact) &&
    holds(o.paths, req.path, str) &&
    holds(o.hosts, req.host, str)
  );
}

function headerValue(headers: Readonly<Record<string, string>>, name: string) {
  const direct = headers[name];
  if (direct !== undefined) return direct;
  const lower = name.toLowerCase();
  for (const k in headers) if (k.toLowerCase() === lower) return headers[k];
  return undefined;
}

function conditionHolds(c: CompiledCondition, src: Source, req: Request | undefined): boolean {
  switch (c.key) {
    case 'source.ip':
      return holds(c.lists, src.ip, ipIn);
    case 'source.namespace':
      return holds(c.lists, src.namespace, nsMatch);
    case 'source.principal':
      return holds(c.lists, src.principal, str);
    case 'header':
      // Compiled only for requests.
      return req === undefined || holds(c.lists, headerValue(req.headers, c.name), str);
  }
}

function ruleHolds(r: CompiledAuthzRule, src: Source, req: Request | undefined): boolean {
  if (r.failClosed !== undefined) return true;
  if (r.from !== null && !r.from.some((s) => sourceHolds(s, src))) return false;
  if (r.to !== null && (req === undefined || !r.to.some((o) => operationHolds(o, req))))
    return false;
  for (const c of r.when) if (!conditionHolds(c, src, req)) return false;
  return true;
}

function first(rules: readonly CompiledAuthzRule[], src: Source, req: Request | undefined) {
  for (const r of rules) if (ruleHolds(r, src, req)) return r;
  return undefined;
}

const ALLOWED: Verdict = { allow: true, stage: 'AuthorizationPolicy', reason: 'allowed' };

/** The verdict of `authz`, without the words of a default denial (`reason` empty: explain it). */
function authorize(a: AuthzTable, src: Source, req: Request | undefined): Verdict {
  let audited: string[] | undefined;
  for (const r of a.audit)
    if (ruleHolds(r, src, req)) {
      audited ??= [];
      audited.push(r.label);
    }
  const withAudit = (v: Verdict): Verdict => (audited ? { ...v, audited } : v);
  const deny = first(a.deny, src, req);
  if (deny)
    return withAudit({
      allow: false,
      stage: 'AuthorizationPolicy',
      policy: deny.policy,
      ...(deny.failClosed === undefined ? { rule: deny.rule } : {}),
      reason: deny.reason,
    });
  if (!a.anyAllow) return withAudit(ALLOWED);
  const allow = first(a.allow, src, req);
  if (allow)
    return withAudit({
      allow: true,
      stage: 'AuthorizationPolicy',
      policy: allow.policy,
      rule: allow.rule,
      reason: allow.reason,
    });
  return withAudit({ allow: false, stage: 'AuthorizationPolicy', reason: '' });
}

/** What is decided on `port` of the workload: whether it is read as HTTP, and its rules. */
export function portDecisions(d: IngressDecisions, port: number): PortDecisions {
  return d.ports.get(port) ?? d.otherPorts;
}

/**
 * May `src` connect to the enrolled workload `dstKey` on `port`? NetworkPolicy, then (unless
 * the port is read as HTTP, when it is per request) AuthorizationPolicy. `t` explains a denial.
 */
export function decideIngress(
  d: IngressDecisions,
  t: PolicyTables,
  dstKey: string,
  src: Source,
  port: number,
): Verdict {
  const pd = portDecisions(d, port);
  if (d.netpol.isolated && allowingRule(d.netpol, src.ip, port) === undefined)
    return {
      allow: false,
      stage: 'ingress NetworkPolicy',
      policy: d.netpol.selectedBy,
      reason: checkIngress(t, dstKey, src, port, pd.http ? 'per-request' : undefined).reason,
    };
  if (pd.http || pd.authz === null) return ALLOWED;
  const v = authorize(pd.authz, src, undefined);
  if (v.reason !== '') return v;
  // NetworkPolicy allowed it: only AuthorizationPolicy has something to explain.
  return { ...v, reason: checkIngress({ ...t, networkPolicies: [] }, dstKey, src, port).reason };
}

/** One HTTP request on a port read as HTTP: AuthorizationPolicy with the request's fields. */
export function decideRequest(
  pd: PortDecisions,
  t: PolicyTables,
  dstKey: string,
  src: Source,
  port: number,
  http: AuthzRequest,
): Verdict {
  if (pd.authz === null) return ALLOWED;
  const q = http.path.search(/[?#]/);
  const req: Request = {
    method: http.method,
    path: q < 0 ? http.path : http.path.slice(0, q),
    host: http.host.toLowerCase(),
    headers: http.headers,
  };
  const v = authorize(pd.authz, src, req);
  return v.reason === '' ? { ...v, reason: checkRequest(t, dstKey, src, port, http).reason } : v;
}

const EGRESS_ALLOWED: Verdict = { allow: true, stage: 'egress NetworkPolicy', reason: 'allowed' };

/** May the enrolled workload `srcKey` connect to dstIp:port? */
export function decideEgress(
  d: EgressDecisions,
  t: PolicyTables,
  srcKey: string,
  dstIp: string,
  port: number,
): Verdict {
  if (!d.netpol.isolated) return EGRESS_ALLOWED;
  const r = allowingRule(d.netpol, dstIp, port, t.podsByIP.get(dstIp)?.ports);
  if (r)
    return {
      allow: true,
      stage: 'egress NetworkPolicy',
      policy: r.policy,
      rule: r.rule,
      reason: 'allowed',
    };
  return {
    allow: false,
    stage: 'egress NetworkPolicy',
    policy: d.netpol.selectedBy,
    reason: checkEgress(t, srcKey, dstIp, port).reason,
  };
}

/**
 * The egress verdict for a connection the enrolled workload `srcKey` opens: a lookup in its
 * table. Only a caller that hands the proxy bare policy tables (tests) has none: then the
 * evaluator decides.
 */
export function egressVerdict(
  d: NodeDecisions,
  t: PolicyTables,
  srcKey: string,
  dstIp: string,
  port: number,
): Verdict {
  const table = d.egress.get(srcKey);
  return table ? decideEgress(table, t, srcKey, dstIp, port) : checkEgress(t, srcKey, dstIp, port);
}
