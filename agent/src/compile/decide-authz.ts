// A workload's AuthorizationPolicies as the proxy's decision tables, per port:
// the policies that apply to it, pre-selected and split by action; each rule's
// ports (`ports`, `notPorts`, `destination.port`) settled for the port, its
// principals, namespaces and ipBlocks parsed once. On a port read as TCP the
// HTTP fields are settled too, as the evaluator settles them (policy/authz-eval.ts:
// an ALLOW rule with any never matches, DENY and AUDIT rules ignore them), so
// a connection is matched on its source alone. Pure.

import { applies, hasHttpFields, matchPort, servesHttp } from '../policy/index.ts';
import {
  type AuthorizationPolicy,
  type AuthzCondition,
  type AuthzOperation,
  type AuthzRule,
  type AuthzSource,
  type Pod,
  toCidr,
} from '../state/index.ts';
import type {
  AuthzTable,
  CompiledAuthzRule,
  CompiledCondition,
  CompiledOperation,
  CompiledSource,
  IngressDecisions,
  Lists,
  NamespaceMatcher,
  NetpolTable,
  PortDecisions,
  RateLimitTable,
  StringMatcher,
} from '../tables/index.ts';

export function stringMatcher(pattern: string): StringMatcher {
  if (pattern === '*') return { kind: 'present' };
  if (pattern.startsWith('*')) return { kind: 'suffix', s: pattern.slice(1) };
  if (pattern.endsWith('*')) return { kind: 'prefix', s: pattern.slice(0, -1) };
  return { kind: 'exact', s: pattern };
}

function lists<T>(
  values: readonly string[],
  notValues: readonly string[],
  f: (s: string) => T,
): Lists<T> {
  return { values: values.length > 0 ? values.map(f) : null, notValues: notValues.map(f) };
}

const ns = (p: string): NamespaceMatcher => p.split('*');
const cidr = (p: string) => toCidr(p) ?? null;

function source(s: AuthzSource): CompiledSource {
  return {
    principals: lists(s.principals, s.notPrincipals, stringMatcher),
    namespaces: lists(s.namespaces, s.notNamespaces, ns),
    ipBlocks: lists(s.ipBlocks, s.notIpBlocks, cidr),
  };
}

function portAdmits(values: readonly string[], notValues: readonly string[], port: number) {
  return (
    (values.length === 0 || values.some((v) => matchPort(v, port))) &&
    !notValues.some((v) => matchPort(v, port))
  );
}

function operation(o: AuthzOperation): CompiledOperation {
  return {
    methods: lists(o.methods, o.notMethods, (m) => m),
    paths: lists(o.paths, o.notPaths, stringMatcher),
    hosts: lists(o.hosts, o.notHosts, (h) => stringMatcher(h.toLowerCase())),
  };
}

/** A condition on `port`: true (always holds here), false (never), or what is left to match. */
function condition(c: AuthzCondition, port: number, http: boolean): CompiledCondition | boolean {
  switch (c.key) {
    case 'source.ip':
      return { key: 'source.ip', lists: lists(c.values, c.notValues, cidr) };
    case 'source.namespace':
      return { key: 'source.namespace', lists: lists(c.values, c.notValues, ns) };
    case 'source.principal':
      return { key: 'source.principal', lists: lists(c.values, c.notValues, stringMatcher) };
    case 'destination.port':
      return portAdmits(c.values, c.notValues, port);
  }
  const header = /^request\.headers\[(.+)\]$/.exec(c.key)?.[1];
  if (header === undefined) return false; // not a supported key: never matches
  if (!http) return true; // a TCP connection has no headers to ask
  const m = (v: string): StringMatcher => (v === '*' ? { kind: 'any' } : stringMatcher(v));
  return { key: 'header', name: header, lists: lists(c.values, c.notValues, m) };
}

/** The rule on `port`, or null when it can never match there. */
function rule(
  p: AuthorizationPolicy,
  r: AuthzRule,
  i: number,
  port: number,
  http: boolean,
): CompiledAuthzRule | null {
  if (!http && p.action === 'ALLOW' && hasHttpFields(r)) return null;
  let to: CompiledOperation[] | null = null;
  if (r.to) {
    const here = r.to.filter((o) => portAdmits(o.ports, o.notPorts, port));
    if (here.length === 0) return null;
    // On TCP an operation on this port matches whatever its HTTP fields say.
    to = http ? here.map(operation) : null;
  }
  const when: CompiledCondition[] = [];
  for (const c of r.when ?? []) {
    const k = condition(c, port, http);
    if (k === false) return null;
    if (k !== true) when.push(k);
  }
  const id = `${p.namespace}/${p.name}`;
  return {
    policy: id,
    rule: i,
    from: r.from ? r.from.map(source) : null,
    to,
    when,
    label: `${id} rule ${i}`,
    reason:
      p.action === 'DENY'
        ? `denied by DENY policy ${id} rule ${i}`
        : p.action === 'ALLOW'
          ? `allowed by ALLOW policy ${id} rule ${i}`
          : `audited by AUDIT policy ${id} rule ${i}`,
  };
}

function table(applying: readonly AuthorizationPolicy[], port: number, http: boolean): AuthzTable {
  const of = (action: AuthorizationPolicy['action']) => {
    const out: CompiledAuthzRule[] = [];
    for (const p of applying) {
      if (p.action !== action) continue;
      const id = `${p.namespace}/${p.name}`;
      // A stand-in decides at once, as the evaluator's first match does (AUDIT ones have no rules).
      if (p.failClosed !== undefined && action !== 'AUDIT') {
        out.push({
          policy: id,
          rule: 0,
          failClosed: p.failClosed,
          from: null,
          to: null,
          when: [],
          label: `${id} rule 0`,
          reason:
            action === 'DENY'
              ? `denied by ${id}, which fails closed (it denies all traffic to the workloads it selects): ${p.failClosed}`
              : `allowed by ALLOW policy ${id} rule 0`,
        });
        continue;
      }
      for (const [i, r] of (p.rules ?? []).entries()) {
        const c = rule(p, r, i, port, http);
        if (c) out.push(c);
      }
    }
    return out;
  };
  return {
    deny: of('DENY'),
    allow: of('ALLOW'),
    anyAllow: applying.some((p) => p.action === 'ALLOW'),
    audit: of('AUDIT'),
  };
}

/** The ports that can decide differently from any other: named by a rule, or declared by the pod. */
function namedPorts(applying: readonly AuthorizationPolicy[], pod: Pod): Set<number> {
  const out = new Set<number>();
  const add = (v: string) => {
    if (/^[0-9]+$/.test(v)) out.add(Number(v));
  };
  for (const p of applying)
    for (const r of p.rules ?? []) {
      for (const o of r.to ?? []) for (const v of [...o.ports, ...o.notPorts]) add(v);
      for (const c of r.when ?? [])
        if (c.key === 'destination.port') for (const v of [...c.values, ...c.notValues]) add(v);
    }
  for (const c of pod.ports) out.add(c.containerPort);
  return out;
}

/** A port no rule and no container port names: every such port decides alike. */
const OTHER_PORT = -1;

/** The ingress decisions of the enrolled pod `pod`, given its NetworkPolicy table and rate limits. */
export function compileIngress(
  policies: readonly AuthorizationPolicy[],
  rootNamespace: string,
  pod: Pod,
  netpol: NetpolTable,
  limits: ReadonlyMap<number, RateLimitTable> = new Map(),
): IngressDecisions {
  const workload = { namespace: pod.namespace, labels: pod.labels };
  const applying = policies.filter((p) => applies(p, { workload, rootNamespace }));
  const forPort = (port: number): PortDecisions => {
    const rateLimit = limits.get(port) ?? null;
    if (applying.length === 0) return { http: rateLimit !== null, authz: null, rateLimit };
    const http = rateLimit !== null || servesHttp(applying, rootNamespace, pod, port);
    return { http, authz: table(applying, port, http), rateLimit };
  };
  const ports = new Map<number, PortDecisions>();
  if (applying.length > 0)
    for (const port of namedPorts(applying, pod)) ports.set(port, forPort(port));
  for (const port of limits.keys()) if (!ports.has(port)) ports.set(port, forPort(port));
  return { netpol, ports, otherPorts: forPort(OTHER_PORT) };
}
