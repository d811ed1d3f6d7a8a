// The proxy's decision tables: for each enrolled workload of the node, what
// decides its connections, compiled once per snapshot (compile/decisions.ts) so
// that a connection or an HTTP request is a lookup (proxy/decide.ts). Every
// verdict names the policy and rule that decided it; the words explaining a
// denial come from the evaluators, after the fact.

import type { Cidr, ServiceTarget } from '../state/index.ts';
import type { RateLimitTable } from './rate-limits.ts';

/** One NetworkPolicy rule as a table holds it: who decides, and the TCP ports it opens. */
export interface NetpolRuleRef {
  /** `namespace/name`. */
  readonly policy: string;
  /** Index in the policy's ingress or egress rules. */
  readonly rule: number;
  /** Every TCP port. */
  readonly allPorts: boolean;
  /** Inclusive TCP ranges, flattened: lo0, hi0, lo1, hi1, ... */
  readonly ranges: readonly number[];
  /** Named ports of the destination pod, resolved per connection (egress; ingress resolves them here). */
  readonly named: readonly string[];
}

/** Prefixes of one family and length: top bits of the network → the rules allowing it, in order. */
export interface PrefixLevel {
  readonly family: 4 | 6;
  readonly bits: number;
  /** 32 or 128 minus bits: an address shifted right by this is its key. */
  readonly shift: bigint;
  readonly nets: ReadonlyMap<bigint, readonly number[]>;
}

/**
 * A workload's NetworkPolicy for one direction, by the peer's address: the pod at that
 * address (exactly as the snapshot spells it), else the longest ipBlock prefix holding it,
 * else the rules that allow any peer. Each gives rule numbers in policy and rule order;
 * the first whose ports hold the connection's port decides.
 */
export interface NetpolTable {
  /** Some policy selects the workload for this direction: only its rules allow. */
  readonly isolated: boolean;
  /** `ns/name, ...` of the selecting policies, as a denial names them. */
  readonly selectedBy: string;
  readonly rules: readonly NetpolRuleRef[];
  readonly byPod: ReadonlyMap<string, readonly number[]>;
  /** Longest first. */
  readonly prefixes: readonly PrefixLevel[];
  readonly any: readonly number[];
}

/**
 * Istio's string match, split once: `*` alone is a non-empty value (`present`; for a header,
 * any value at all: `any`), `*x` a suffix, `x*` a prefix, anything else exact.
 */
export type StringMatcher =
  | { readonly kind: 'present' | 'any' }
  | { readonly kind: 'exact' | 'prefix' | 'suffix'; readonly s: string };

/** A namespace pattern: a glob split at its `*`s. */
export type NamespaceMatcher = readonly string[];

/** A positive list (null: not set) and a negative one (empty: not set). */
export interface Lists<T> {
  readonly values: readonly T[] | null;
  readonly notValues: readonly T[];
}

export interface CompiledSource {
  readonly principals: Lists<StringMatcher>;
  readonly namespaces: Lists<NamespaceMatcher>;
  /** An unreadable block is null: it never matches. */
  readonly ipBlocks: Lists<Cidr | null>;
}

/** An operation on one port: its ports are settled, its HTTP fields left (per request only). */
export interface CompiledOperation {
  readonly methods: Lists<string>;
  readonly paths: Lists<StringMatcher>;
  /** Lower case. */
  readonly hosts: Lists<StringMatcher>;
}

export type CompiledCondition =
  | { readonly key: 'source.ip'; readonly lists: Lists<Cidr | null> }
  | { readonly key: 'source.namespace'; readonly lists: Lists<NamespaceMatcher> }
  | { readonly key: 'source.principal'; readonly lists: Lists<StringMatcher> }
  | {
      readonly key: 'header';
      readonly name: string;
      /** `*` is `any`: the header is there, even empty. */
      readonly lists: Lists<StringMatcher>;
    };

/** One AuthorizationPolicy rule on one port of one workload. */
export interface CompiledAuthzRule {
  readonly policy: string;
  readonly rule: number;
  /** A stand-in for a policy weft cannot enforce: matches everything. */
  readonly failClosed?: string;
  /** Absent: any source. */
  readonly from: readonly CompiledSource[] | null;
  /** Absent: any operation; on a port read as TCP, present only as "some operation is on this port". */
  readonly to: readonly CompiledOperation[] | null;
  readonly when: readonly CompiledCondition[];
  /** `ns/name rule N`, as AUDIT matches are logged. */
  readonly label: string;
  /** The verdict's words when this rule decides (`allowed by ALLOW policy ...`). */
  readonly reason: string;
}

/** The AuthorizationPolicies of one workload on one port, pre-selected and split by action. */
export interface AuthzTable {
  readonly deny: readonly CompiledAuthzRule[];
  readonly allow: readonly CompiledAuthzRule[];
  /** Some ALLOW policy applies to the workload: when no ALLOW rule matches, that denies. */
  readonly anyAllow: boolean;
  readonly audit: readonly CompiledAuthzRule[];
}

export interface PortDecisions {
  /** Read as HTTP: AuthorizationPolicy is decided per request, with `authz` holding the request rules. */
  readonly http: boolean;
  /** null: no AuthorizationPolicy applies to the workload. */
  readonly authz: AuthzTable | null;
  /** The HTTPLocalRateLimitPolicy of a Service that sends to this port (then read as HTTP); null: none. */
  readonly rateLimit: RateLimitTable | null;
}

export interface IngressDecisions {
  /** Who may connect, by source address. */
  readonly netpol: NetpolTable;
  /** The ports some applicable AuthorizationPolicy or the pod's own ports name. */
  readonly ports: ReadonlyMap<number, PortDecisions>;
  /** Every other port (they all decide alike). */
  readonly otherPorts: PortDecisions;
}

export interface EgressDecisions {
  /** Where the workload may connect, by destination address. */
  readonly netpol: NetpolTable;
  /** By VIP key (`ip:port`): the endpoints the workload may reach, where that is fewer than all. */
  readonly vips: ReadonlyMap<string, ServiceTarget>;
}

/** Per enrolled workload of the node, by `namespace/name`. */
export interface NodeDecisions {
  readonly ingress: ReadonlyMap<string, IngressDecisions>;
  readonly egress: ReadonlyMap<string, EgressDecisions>;
}

export const emptyDecisions: NodeDecisions = { ingress: new Map(), egress: new Map() };
