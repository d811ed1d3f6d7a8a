// NetworkPolicy of one workload, compiled for the kernel's LPM maps: egress
// for connect(), ingress from plaintext peers for sk_lookup.
// Pure. Longest prefix wins in the map, so each entry carries the union of the
// ports of every rule that covers its whole prefix and does not except it; an
// except becomes an entry of its own (often with no ports: a hole). Where the
// exact answer does not fit (named ports, more ranges than the map holds) the
// entry allows all ports and the proxy's per-connection check stays exact.
import { constants } from '../datapath/layout.ts';
import { type Cidr, parseCidr } from '../policy/cidr.ts';
import { isIPBlockPeer, type NetworkPolicy, type PolicyRule } from '../policy/netpol-types.ts';
import { selects } from '../policy/selectors.ts';
import type { ContainerPort, Labels, Pod, Snapshot } from '../state/types.ts';
import { vipEgress } from './netpol-services.ts';

export interface PeerPorts {
  readonly all: boolean;
  /** Merged, sorted, inclusive (lo, hi). */
  readonly ranges: readonly (readonly [number, number])[];
}

export interface PeerEntry {
  /** 16 bytes; IPv4 as ::ffff:a.b.c.d. */
  readonly addr: Buffer;
  /** Bits of addr that count (0..128). */
  readonly bits: number;
  readonly ports: PeerPorts;
}

export interface PeerTable {
  readonly isolated: boolean;
  /** Keyed by `addr-hex/bits`. */
  readonly entries: ReadonlyMap<string, PeerEntry>;
  /** namespace/name of the policies that isolate the workload. */
  readonly policies: readonly string[];
}

/** `id` and `addr` are worked out on first use: prefixes are shared by every table of a snapshot. */
type Prefix = { net: bigint; bits: number; id?: string; addr?: Buffer };

/** A CIDR as a 128-bit prefix (IPv4 mapped into ::ffff:0:0/96). */
function toPrefix(c: Cidr): Prefix {
  return c.family === 4
    ? { net: (0xffffn << 32n) | c.network, bits: 96 + c.prefix }
    : { net: c.network, bits: c.prefix };
}

function key(p: Prefix): string {
  p.id ??= `${p.net.toString(16).padStart(32, '0')}/${p.bits}`;
  return p.id;
}

function addrOf(p: Prefix): Buffer {
  if (!p.addr) {
    p.addr = Buffer.alloc(16);
    p.addr.writeBigUInt64BE(p.net >> 64n, 0);
    p.addr.writeBigUInt64BE(p.net & 0xffff_ffff_ffff_ffffn, 8);
  }
  return p.addr;
}

const ALL: PeerPorts = { all: true, ranges: [] };

/**
 * The TCP ports a rule allows, or ALL. A named port resolves against the
 * destination pod: known for ingress (the workload itself); for egress it is
 * each peer's, so the entry allows all ports and the proxy checks exactly.
 */
function rulePorts(rule: PolicyRule, own?: readonly ContainerPort[]): PeerPorts {
  if (rule.ports.length === 0) return ALL;
  let ranges: [number, number][] = [];
  for (const p of rule.ports) {
    if (p.protocol !== 'TCP') continue;
    if (p.port === undefined) return ALL;
    if (typeof p.port === 'string') {
      if (!own) return ALL;
      const c = own.find((x) => x.name === p.port && x.protocol === 'TCP');
      if (c) ranges = [...ranges, [c.containerPort, c.containerPort]];
      continue;
    }
    ranges.push([p.port, p.endPort ?? p.port]);
  }
  return merged(ranges);
}

function union(a: PeerPorts, b: PeerPorts): PeerPorts {
  if (a.all || b.all) return ALL;
  // Both are merged already: nothing to merge when one is empty or they are the same.
  if (a === b || b.ranges.length === 0) return a;
  if (a.ranges.length === 0) return b;
  return merged([...a.ranges, ...b.ranges]);
}

/** Sorted, overlapping and adjacent ranges joined; ALL when more than the map holds. */
function merged(ranges: readonly (readonly [number, number])[]): PeerPorts {
  const rs = [...ranges].sort((x, y) => x[0] - y[0]);
  const out: [number, number][] = [];
  for (const [lo, hi] of rs) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out.length > constants.EGRESS_MAX_RANGES ? ALL : { all: false, ranges: out };
}

interface CompiledRule {
  /**
   * The rule's peers as blocks: an ipBlock with its own excepts, and one block
   * for all selected pods (an except never takes back what a pod peer allows).
   */
  readonly blocks: { prefixes: Prefix[]; excepts: Prefix[] }[];
  readonly ports: PeerPorts;
}

/** Per snapshot: each pod's /32 (or /128) prefix and each namespace's labels, worked out once. */
interface SnapshotIndex {
  readonly pods: { pod: Pod; prefix: Prefix }[];
  readonly nsLabels: Map<string, Labels>;
}

const snapIndex = new WeakMap<Snapshot, SnapshotIndex>();

function indexOf(snap: Snapshot): SnapshotIndex {
  const have = snapIndex.get(snap);
  if (have) return have;
  const pods: SnapshotIndex['pods'] = [];
  const nsLabels = new Map<string, Labels>();
  for (const pod of snap.pods.values()) {
    if (!pod.podIP) continue;
    const c = parseCidr(`${pod.podIP}/${pod.podIP.includes(':') ? 128 : 32}`);
    if (!c) continue;
    pods.push({ pod, prefix: toPrefix(c) });
    if (!nsLabels.has(pod.namespace))
      nsLabels.set(pod.namespace, {
        ...(snap.namespaces.get(pod.namespace)?.labels ?? {}),
        'kubernetes.io/metadata.name': pod.namespace,
      });
  }
  const index = { pods, nsLabels };
  snapIndex.set(snap, index);
  return index;
}

function podPrefixes(
  snap: Snapshot,
  policy: NetworkPolicy,
  rule: PolicyRule,
  own?: readonly ContainerPort[],
): CompiledRule {
  const prefixes: Prefix[] = [];
  const blocks = [{ prefixes, excepts: [] as Prefix[] }];
  if (rule.peers.length === 0) prefixes.push({ net: 0n, bits: 0 });
  for (const peer of rule.peers) {
    if (isIPBlockPeer(peer)) {
      const c = parseCidr(peer.ipBlock.cidr);
      const excepts: Prefix[] = [];
      for (const e of peer.ipBlock.except) {
        const x = parseCidr(e);
        if (x) excepts.push(toPrefix(x));
      }
      if (c) blocks.push({ prefixes: [toPrefix(c)], excepts });
      continue;
    }
    const index = indexOf(snap);
    // A namespace's verdict is the same for all its pods: asked once per namespace.
    const nsOk = new Map<string, boolean>();
    for (const { pod, prefix } of index.pods) {
      let ok = nsOk.get(pod.namespace);
      if (ok === undefined) {
        ok = peer.namespaceSelector
          ? selects(peer.namespaceSelector, index.nsLabels.get(pod.namespace)!)
          : pod.namespace === policy.namespace;
        nsOk.set(pod.namespace, ok);
      }
      if (ok && (!peer.podSelector || selects(peer.podSelector, pod.labels))) prefixes.push(prefix);
    }
  }
  return { blocks, ports: rulePorts(rule, own) };
}

// A rule's peers resolve the same for every workload it applies to: resolved
// once per snapshot (ports differ only by the workload's own named ports).
const peerCache = new WeakMap<Snapshot, Map<PolicyRule, Map<string, CompiledRule>>>();

function cachedPrefixes(
  snap: Snapshot,
  policy: NetworkPolicy,
  rule: PolicyRule,
  own?: readonly ContainerPort[],
): CompiledRule {
  const bySnap = peerCache.get(snap) ?? new Map<PolicyRule, Map<string, CompiledRule>>();
  peerCache.set(snap, bySnap);
  const byRule = bySnap.get(rule) ?? new Map<string, CompiledRule>();
  bySnap.set(rule, byRule);
  const key = own ? JSON.stringify(own) : '';
  const have = byRule.get(key);
  if (have) return have;
  const c = podPrefixes(snap, policy, rule, own);
  byRule.set(key, c);
  return c;
}

/**
 * Prefixes by length, then by their network bits: which of a set of prefixes
 * cover a given one is a lookup per distinct length (a handful), not a scan.
 */
class PrefixIndex {
  private readonly byBits = new Map<number, Map<bigint, number[]>>();

  add(p: Prefix, id: number): void {
    const m = this.byBits.get(p.bits) ?? new Map<bigint, number[]>();
    this.byBits.set(p.bits, m);
    const top = p.bits === 0 ? 0n : p.net >> BigInt(128 - p.bits);
    const list = m.get(top);
    if (!list) m.set(top, [id]);
    else if (list[list.length - 1] !== id) list.push(id);
  }

  /** The ids that have a prefix covering p. */
  covering(p: Prefix, out: Set<number>): Set<number> {
    for (const [bits, m] of this.byBits) {
      if (bits > p.bits) continue;
      const list = m.get(bits === 0 ? 0n : p.net >> BigInt(128 - bits));
      if (list) for (const r of list) out.add(r);
    }
    return out;
  }
}

/**
 * The table of a workload (a pod of `namespace` with `labels`) for one
 * direction: for egress, the destinations it may connect to; for ingress, the
 * sources that may connect to it (on its own ports).
 */
export function compilePeerTable(
  snap: Snapshot,
  namespace: string,
  labels: Labels,
  direction: 'egress' | 'ingress' = 'egress',
  ownPorts?: readonly ContainerPort[],
): PeerTable {
  // Replicas share namespace, labels and ports, so they share a table: compiled once per snapshot.
  const memoKey = JSON.stringify([
    direction,
    namespace,
    Object.entries(labels).sort(),
    direction === 'ingress' ? (ownPorts ?? []) : null,
  ]);
  const byKey = tableCache.get(snap) ?? new Map<string, PeerTable>();
  tableCache.set(snap, byKey);
  const have = byKey.get(memoKey);
  if (have) return have;
  const table = buildPeerTable(snap, namespace, labels, direction, ownPorts);
  byKey.set(memoKey, table);
  return table;
}

const tableCache = new WeakMap<Snapshot, Map<string, PeerTable>>();

function buildPeerTable(
  snap: Snapshot,
  namespace: string,
  labels: Labels,
  direction: 'egress' | 'ingress',
  ownPorts?: readonly ContainerPort[],
): PeerTable {
  const type = direction === 'egress' ? 'Egress' : 'Ingress';
  const selecting = [...(snap.networkPolicies?.values() ?? [])].filter(
    (p) =>
      p.namespace === namespace && p.policyTypes.includes(type) && selects(p.podSelector, labels),
  );
  if (selecting.length === 0) return { isolated: false, entries: new Map(), policies: [] };
  const rules = selecting.flatMap((p) =>
    (direction === 'egress' ? p.egress : p.ingress).map((r) =>
      cachedPrefixes(snap, p, r, direction === 'ingress' ? (ownPorts ?? []) : undefined),
    ),
  );
  const candidates = new Map<string, Prefix>();
  // Indexed by block; ruleOf[block] is the rule it belongs to.
  const allowing = new PrefixIndex();
  const excepting = new PrefixIndex();
  const ruleOf: number[] = [];
  rules.forEach((r, i) => {
    for (const b of r.blocks) {
      const id = ruleOf.push(i) - 1;
      for (const p of b.prefixes) {
        candidates.set(key(p), p);
        allowing.add(p, id);
      }
      for (const x of b.excepts) {
        candidates.set(key(x), x);
        excepting.add(x, id);
      }
    }
  });
  const entries = new Map<string, PeerEntry>();
  for (const [k, cand] of candidates) {
    const excepted = excepting.covering(cand, new Set());
    const by = new Set<number>();
    for (const b of allowing.covering(cand, new Set())) if (!excepted.has(b)) by.add(ruleOf[b]!);
    // In rule order, as the ports of several rules merge.
    let ports: PeerPorts = { all: false, ranges: [] };
    for (const i of [...by].sort((a, b) => a - b)) ports = union(ports, rules[i]!.ports);
    entries.set(k, { addr: addrOf(cand), bits: cand.bits, ports });
  }
  // A Service VIP is judged by the pods behind it (netpol-services.ts): its own exact entry,
  // needed only where it allows some port or a broader allowing prefix covers the VIP.
  if (direction === 'egress')
    for (const v of vipEgress(snap, namespace, labels, selecting)) {
      const c = parseCidr(`${v.ip}/${v.ip.includes(':') ? 128 : 32}`);
      if (!c) continue;
      const p = toPrefix(c);
      if (v.ports.length === 0 && allowing.covering(p, new Set()).size === 0) continue;
      const ports = merged(v.ports.map((x) => [x, x] as const));
      entries.set(key(p), { addr: addrOf(p), bits: p.bits, ports });
    }
  return { isolated: true, entries, policies: selecting.map((p) => `${p.namespace}/${p.name}`) };
}

/** The egress table of a workload: what its connect()s may reach. */
export function compileEgress(snap: Snapshot, namespace: string, labels: Labels): PeerTable {
  return compilePeerTable(snap, namespace, labels, 'egress');
}
