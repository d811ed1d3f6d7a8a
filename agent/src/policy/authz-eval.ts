// Evaluates AuthorizationPolicies for one connection or request, as Istio's
// generated RBAC filters would: DENY, then ALLOW, with AUDIT only recorded. Every
// decision names the stage, the policy and the rule, and says why nothing matched.

import type {
  AuthorizationPolicy,
  AuthzAction,
  AuthzCondition,
  AuthzDecision,
  AuthzInput,
  AuthzOperation,
  AuthzRule,
  AuthzSource,
  AuthzStage,
} from '../state/index.ts';
import {
  headerValue,
  matchHeader,
  matchHost,
  matchIpBlock,
  matchMethod,
  matchNamespace,
  matchPath,
  matchPort,
  matchPrincipal,
  pathOnly,
} from './authz-match.ts';

export function evaluateAuthorization(input: AuthzInput): AuthzDecision {
  const applying = input.policies.filter((p) => applies(p, input));
  const of = (a: AuthzAction) => applying.filter((p) => p.action === a);
  const stages: AuthzStage[] = [];

  const denies = of('DENY');
  const deny = firstMatch(denies, input);
  stages.push(denyStage(denies, deny));

  let verdict: 'allow' | 'deny' = 'deny';
  if (deny.hit === undefined) {
    const allows = of('ALLOW');
    const allow = firstMatch(allows, input);
    stages.push(allowStage(allows, allow));
    verdict = allows.length === 0 || allow.hit !== undefined ? 'allow' : 'deny';
  }

  const audits = of('AUDIT');
  const audited = allMatches(audits, input);
  stages.push(...auditStages(audits, audited));
  return { verdict, stages, audited };
}

/** In the workload's namespace, or mesh-wide from the root namespace; then by selector. */
export function applies(
  p: AuthorizationPolicy,
  input: Pick<AuthzInput, 'workload' | 'rootNamespace'>,
): boolean {
  const { workload, rootNamespace } = input;
  if (p.namespace !== workload.namespace && p.namespace !== rootNamespace) return false;
  const wanted = p.selector?.matchLabels ?? {};
  return Object.entries(wanted).every(([k, v]) => workload.labels[k] === v);
}

export function policyId(p: AuthorizationPolicy): string {
  return `${p.namespace}/${p.name}`;
}

// --- stages -------------------------------------------------------------------

interface Hit {
  readonly policy: string;
  readonly rule: number;
  /** Set when the hit is a policy weft cannot enforce, denying all it selects. */
  readonly failClosed?: string;
}

interface Search {
  readonly hit?: Hit;
  /** Why each rule (or rule-less policy) did not match, for the explanation. */
  readonly misses: readonly string[];
}

function firstMatch(policies: readonly AuthorizationPolicy[], input: AuthzInput): Search {
  const misses: string[] = [];
  for (const p of policies) {
    // Only DENY stand-ins carry failClosed into a stage that decides (AUDIT ones audit nothing).
    if (p.failClosed !== undefined)
      return { hit: { policy: policyId(p), rule: 0, failClosed: p.failClosed }, misses };
    const rules = p.rules ?? [];
    if (rules.length === 0) misses.push(`${policyId(p)} has no rules`);
    for (const [i, rule] of rules.entries()) {
      const why = ruleMiss(rule, p.action, input);
      if (why === undefined) return { hit: { policy: policyId(p), rule: i }, misses };
      misses.push(`${policyId(p)} rule ${i}: ${why}`);
    }
  }
  return { misses };
}

function allMatches(policies: readonly AuthorizationPolicy[], input: AuthzInput): Hit[] {
  const hits: Hit[] = [];
  for (const p of policies)
    for (const [i, rule] of (p.rules ?? []).entries())
      if (ruleMiss(rule, p.action, input) === undefined)
        hits.push({ policy: policyId(p), rule: i });
  return hits;
}

function denyStage(denies: readonly AuthorizationPolicy[], s: Search): AuthzStage {
  if (s.hit?.failClosed !== undefined)
    return {
      stage: 'DENY',
      policy: s.hit.policy,
      result: 'match',
      reason: `denied by ${s.hit.policy}, which fails closed (it denies all traffic to the workloads it selects): ${s.hit.failClosed}`,
    };
  if (s.hit)
    return {
      stage: 'DENY',
      ...s.hit,
      result: 'match',
      reason: `denied by DENY policy ${s.hit.policy} rule ${s.hit.rule}`,
    };
  if (denies.length === 0)
    return {
      stage: 'DENY',
      result: 'not-applicable',
      reason: 'no DENY policy applies to the workload',
    };
  return {
    stage: 'DENY',
    result: 'no-match',
    reason: `no DENY rule matches: ${s.misses.join('; ')}`,
  };
}

function allowStage(allows: readonly AuthorizationPolicy[], s: Search): AuthzStage {
  if (s.hit)
    return {
      stage: 'ALLOW',
      ...s.hit,
      result: 'match',
      reason: `allowed by ALLOW policy ${s.hit.policy} rule ${s.hit.rule}`,
    };
  if (allows.length === 0)
    return {
      stage: 'ALLOW',
      result: 'default-allow',
      reason: 'no ALLOW policy applies to the workload',
    };
  const names = allows.map(policyId).join(', ');
  return {
    stage: 'ALLOW',
    result: 'default-deny',
    reason: `default deny because ALLOW policies select this workload (${names}) and no rule matches: ${s.misses.join('; ')}`,
  };
}

function auditStages(audits: readonly AuthorizationPolicy[], hits: readonly Hit[]): AuthzStage[] {
  if (audits.length === 0)
    return [
      {
        stage: 'AUDIT',
        result: 'not-applicable',
        reason: 'no AUDIT policy applies to the workload',
      },
    ];
  if (hits.length === 0)
    return [{ stage: 'AUDIT', result: 'no-match', reason: 'no AUDIT rule matches' }];
  return hits.map((h) => ({
    stage: 'AUDIT',
    ...h,
    result: 'match',
    reason: `audited by AUDIT policy ${h.policy} rule ${h.rule}`,
  }));
}

// --- rules --------------------------------------------------------------------

/**
 * undefined when the rule matches, else why not. HTTP-only fields on plain TCP follow
 * Istio: an ALLOW rule with any never matches (it is dropped, allowing less); DENY and
 * AUDIT rules ignore them (denying or auditing more).
 */
function ruleMiss(rule: AuthzRule, action: AuthzAction, input: AuthzInput): string | undefined {
  if (!input.http && action === 'ALLOW') {
    const httpOnly = httpFields(rule);
    if (httpOnly.length > 0)
      return `${httpOnly.join(', ')} need HTTP and the traffic is TCP: an ALLOW rule with them never matches it`;
  }
  if (rule.from) {
    const why = rule.from.map((s) => sourceMiss(s, input));
    if (!why.includes(undefined)) return entries('from', 'source', why);
  }
  if (rule.to) {
    const why = rule.to.map((o) => operationMiss(o, input));
    if (!why.includes(undefined)) return entries('to', 'operation', why);
  }
  for (const [i, c] of (rule.when ?? []).entries()) {
    const why = conditionMiss(c, input);
    if (why !== undefined) return `when[${i}] ${why}`;
  }
  return undefined;
}

function entries(list: string, inner: string, why: readonly (string | undefined)[]): string {
  return why.map((w, i) => `${list}[${i}].${inner}.${w}`).join(' and ');
}

function httpFields(rule: AuthzRule): string[] {
  const out: string[] = [];
  for (const [i, o] of (rule.to ?? []).entries())
    for (const f of ['methods', 'notMethods', 'paths', 'notPaths', 'hosts', 'notHosts'] as const)
      if (o[f].length > 0) out.push(`to[${i}].operation.${f}`);
  for (const [i, c] of (rule.when ?? []).entries())
    if (c.key.startsWith('request.headers[')) out.push(`when[${i}] ${c.key}`);
  return out;
}

function sourceMiss(s: AuthzSource, input: AuthzInput): string | undefined {
  const { principal, namespace, ip } = input.source;
  const peer =
    principal === undefined ? 'the plaintext peer (no principal)' : `principal ${q(principal)}`;
  const ns =
    namespace === undefined ? 'the plaintext peer (no namespace)' : `namespace ${q(namespace)}`;
  return (
    lists('principals', s.principals, s.notPrincipals, peer, (v) => matchPrincipal(v, principal)) ??
    lists('namespaces', s.namespaces, s.notNamespaces, ns, (v) => matchNamespace(v, namespace)) ??
    lists('ipBlocks', s.ipBlocks, s.notIpBlocks, `source IP ${ip}`, (v) => matchIpBlock(v, ip))
  );
}

/** On TCP (only DENY and AUDIT get here with HTTP fields) the HTTP fields are skipped. */
function operationMiss(o: AuthzOperation, input: AuthzInput): string | undefined {
  const port = input.destination.port;
  const portMiss = lists('ports', o.ports, o.notPorts, `port ${port}`, (v) => matchPort(v, port));
  const http = input.http;
  if (portMiss !== undefined || !http) return portMiss;
  return (
    lists('methods', o.methods, o.notMethods, `method ${q(http.method)}`, (v) =>
      matchMethod(v, http.method),
    ) ??
    lists('paths', o.paths, o.notPaths, `path ${q(pathOnly(http.path))}`, (v) =>
      matchPath(v, http.path),
    ) ??
    lists('hosts', o.hosts, o.notHosts, `host ${q(http.host)}`, (v) => matchHost(v, http.host))
  );
}

function conditionMiss(c: AuthzCondition, input: AuthzInput): string | undefined {
  const { principal, namespace, ip } = input.source;
  const test = (what: string, t: (v: string) => boolean) =>
    lists('values', c.values, c.notValues, what, t, c.key);
  switch (c.key) {
    case 'source.ip':
      return test(`source IP ${ip}`, (v) => matchIpBlock(v, ip));
    case 'source.namespace':
      return test(namespace === undefined ? 'no namespace (plaintext peer)' : q(namespace), (v) =>
        matchNamespace(v, namespace),
      );
    case 'source.principal':
      return test(principal === undefined ? 'no principal (plaintext peer)' : q(principal), (v) =>
        matchPrincipal(v, principal),
      );
    case 'destination.port':
      return test(`port ${input.destination.port}`, (v) => matchPort(v, input.destination.port));
  }
  const header = /^request\.headers\[(.+)\]$/.exec(c.key)?.[1];
  if (header === undefined) return `${c.key}: not a supported key`;
  const http = input.http;
  if (!http) return undefined;
  const value = headerValue(http.headers, header);
  return test(value === undefined ? 'no such header' : q(value), (v) =>
    matchHeader(v, http.headers, header),
  );
}

/**
 * A positive list matches when any value matches, a negative list when none does; both
 * must hold. Returns why not, naming the field: `principals ["a"] do not match ...`.
 */
function lists(
  name: string,
  values: readonly string[],
  notValues: readonly string[],
  subject: string,
  test: (v: string) => boolean,
  key?: string,
): string | undefined {
  const pos = key ? `${key} values` : name;
  const neg = key ? `${key} notValues` : `not${name[0]?.toUpperCase()}${name.slice(1)}`;
  if (values.length > 0 && !values.some(test))
    return `${pos} ${JSON.stringify(values)} do not match ${subject}`;
  const hit = notValues.find(test);
  if (hit !== undefined) return `${neg} ${q(hit)} matches ${subject}`;
  return undefined;
}

function q(s: string): string {
  return JSON.stringify(s);
}
