// A workload's NetworkPolicy for one direction as the proxy's decision table
// (tables/decisions.ts): the same question the evaluator answers
// (policy/netpol-eval.ts), worked out per snapshot instead of per connection.
// Pure. The peer is found as the evaluator finds it: a pod by the exact address
// the snapshot gives it, an ipBlock by prefix (IPv4-mapped addresses count as
// IPv4), so the two agree address for address (test/unit/compile/decisions.test.ts).

import { selects } from '../policy/index.ts';
import {
  type Cidr,
  type ContainerPort,
  contains,
  isIPBlockPeer,
  isSubnet,
  type Labels,
  type NetworkPolicy,
  type Peer,
  type Pod,
  parseCidr,
} from '../state/index.ts';
import type { NetpolRuleRef, NetpolTable, PolicyTables, PrefixLevel } from '../tables/index.ts';

export const NOT_ISOLATED: NetpolTable = {
  isolated: false,
  selectedBy: '',
  rules: [],
  byPod: new Map(),
  prefixes: [],
  any: [],
};

/** Per snapshot: the addresses each selector peer picks (the same for every workload). */
export type PeerIndex = Map<Peer, readonly string[]>;

/** Per snapshot: pod addresses by namespace, so a selector peer looks only where it can match. */
const byNamespace = new WeakMap<PolicyTables['podsByIP'], Map<string, [string, Pod][]>>();

function podsByNamespace(t: PolicyTables): Map<string, [string, Pod][]> {
  let m = byNamespace.get(t.podsByIP);
  if (!m) {
    m = new Map();
    for (const [ip, pod] of t.podsByIP) {
      const list = m.get(pod.namespace);
      if (list) list.push([ip, pod]);
      else m.set(pod.namespace, [[ip, pod]]);
    }
    byNamespace.set(t.podsByIP, m);
  }
  return m;
}

function selectedAddresses(t: PolicyTables, policy: NetworkPolicy, peer: Peer, idx: PeerIndex) {
  const have = idx.get(peer);
  if (have) return have;
  if (isIPBlockPeer(peer)) return [];
  const out: string[] = [];
  for (const [ns, pods] of podsByNamespace(t)) {
    const nsOk = peer.namespaceSelector
      ? selects(peer.namespaceSelector, {
          ...t.namespaces.get(ns)?.labels,
          'kubernetes.io/metadata.name': ns,
        })
      : ns === policy.namespace;
    if (!nsOk) continue;
    for (const [ip, pod] of pods)
      if (!peer.podSelector || selects(peer.podSelector, pod.labels)) out.push(ip);
  }
  idx.set(peer, out);
  return out;
}

/** The rule's TCP ports; a named port resolves against `own` (ingress) or stays named (egress). */
function ruleRef(
  policy: string,
  rule: number,
  ports: NetworkPolicy['ingress'][number]['ports'],
  own: readonly ContainerPort[] | undefined,
): NetpolRuleRef {
  if (ports.length === 0) return { policy, rule, allPorts: true, ranges: [], named: [] };
  const ranges: number[] = [];
  const named: string[] = [];
  for (const p of ports) {
    if (p.protocol !== 'TCP') continue;
    if (p.port === undefined) return { policy, rule, allPorts: true, ranges: [], named: [] };
    if (typeof p.port === 'number') {
      ranges.push(p.port, p.endPort ?? p.port);
    } else if (own) {
      for (const c of own)
        if (c.name === p.port && c.protocol === 'TCP')
          ranges.push(c.containerPort, c.containerPort);
    } else {
      named.push(p.port);
    }
  }
  return { policy, rule, allPorts: false, ranges, named };
}

/** Two ascending lists of rule numbers as one, each number once. */
function merge(a: readonly number[], b: readonly number[]): readonly number[] {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = j >= b.length || (i < a.length && a[i]! <= b[j]!) ? a[i++]! : b[j++]!;
    if (out[out.length - 1] !== x) out.push(x);
  }
  return out;
}

interface IpRule {
  readonly id: number;
  readonly blocks: readonly { readonly cidr: Cidr | undefined; readonly excepts: Cidr[] }[];
}

function ipAllows(r: IpRule, ip: string): boolean {
  return r.blocks.some(
    (b) => b.cidr !== undefined && contains(b.cidr, ip) && !b.excepts.some((e) => contains(e, ip)),
  );
}

function ipCovers(r: IpRule, c: Cidr): boolean {
  return r.blocks.some(
    (b) => b.cidr !== undefined && isSubnet(c, b.cidr) && !b.excepts.some((e) => isSubnet(c, e)),
  );
}

/**
 * The table of a pod of `namespace` with `labels` for one direction. `own`: the pod's
 * container ports, against which an ingress rule's named ports resolve.
 */
export function compileNetpolTable(
  t: PolicyTables,
  namespace: string,
  labels: Labels,
  direction: 'ingress' | 'egress',
  peers: PeerIndex,
  own?: readonly ContainerPort[],
): NetpolTable {
  const type = direction === 'ingress' ? 'Ingress' : 'Egress';
  const selecting = t.networkPolicies.filter(
    (p) =>
      p.namespace === namespace && p.policyTypes.includes(type) && selects(p.podSelector, labels),
  );
  if (selecting.length === 0) return NOT_ISOLATED;
  const rules: NetpolRuleRef[] = [];
  const any: number[] = [];
  const ipRules: IpRule[] = [];
  const podRules = new Map<string, number[]>();
  for (const p of selecting) {
    const id = `${p.namespace}/${p.name}`;
    for (const [i, r] of (direction === 'ingress' ? p.ingress : p.egress).entries()) {
      const n = rules.push(ruleRef(id, i, r.ports, direction === 'ingress' ? own : undefined)) - 1;
      if (r.peers.length === 0) {
        any.push(n);
        continue;
      }
      const blocks: IpRule['blocks'][number][] = [];
      for (const peer of r.peers) {
        if (isIPBlockPeer(peer)) {
          blocks.push({
            cidr: parseCidr(peer.ipBlock.cidr),
            excepts: peer.ipBlock.except.map(parseCidr).filter((x): x is Cidr => x !== undefined),
          });
          continue;
        }
        for (const ip of selectedAddresses(t, p, peer, peers)) {
          const list = podRules.get(ip);
          if (!list) podRules.set(ip, [n]);
          else if (list[list.length - 1] !== n) list.push(n);
        }
      }
      if (blocks.length > 0) ipRules.push({ id: n, blocks });
    }
  }
  // A selected pod: its selector rules, the rules for anyone, and the ipBlocks holding its address.
  const byPod = new Map<string, readonly number[]>();
  for (const [ip, own] of podRules) {
    // Rule numbers were pushed in order: nothing to merge without other rules.
    if (any.length === 0 && ipRules.length === 0) {
      byPod.set(ip, own);
      continue;
    }
    const blocks = ipRules.filter((r) => ipAllows(r, ip)).map((r) => r.id);
    byPod.set(ip, merge(merge(own, any), blocks));
  }
  // Every ipBlock and except is a prefix of its own; the longest one holding an address
  // settles which blocks allow it (prefixes holding one address nest).
  const levels = new Map<
    string,
    { family: 4 | 6; bits: number; nets: Map<bigint, readonly number[]> }
  >();
  for (const r of ipRules)
    for (const b of r.blocks)
      for (const c of b.cidr ? [b.cidr, ...b.excepts] : []) {
        const k = `${c.family}/${c.prefix}`;
        let level = levels.get(k);
        if (!level) {
          level = { family: c.family, bits: c.prefix, nets: new Map() };
          levels.set(k, level);
        }
        const width = c.family === 4 ? 32 : 128;
        const top = c.network >> BigInt(width - c.prefix);
        if (level.nets.has(top)) continue;
        level.nets.set(
          top,
          merge(
            any,
            ipRules.filter((x) => ipCovers(x, c)).map((x) => x.id),
          ),
        );
      }
  const prefixes: PrefixLevel[] = [...levels.values()]
    .sort((a, b) => b.bits - a.bits)
    .map((l) => ({ ...l, shift: BigInt((l.family === 4 ? 32 : 128) - l.bits) }));
  return {
    isolated: true,
    selectedBy: selecting.map((p) => `${p.namespace}/${p.name}`).join(', '),
    rules,
    byPod,
    prefixes,
    any,
  };
}
