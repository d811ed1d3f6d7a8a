// NetworkPolicy of one workload, compiled for the kernel's LPM maps: egress
// for connect() and UDP sendmsg(), ingress from plaintext peers for sk_lookup.
// One table per IP protocol (TCP, UDP): a rule's UDP ports never open TCP and
// the other way round; a rule without ports opens both.
// Pure. Longest prefix wins in the map, so each entry carries the union of the
// ports of every rule that covers its whole prefix and does not except it; an
// except becomes an entry of its own (often with no ports: a hole). Where the
// exact TCP answer does not fit (named ports of peers, more ranges than the
// map holds) the entry allows all TCP ports and the proxy's per-connection
// check stays exact. UDP has no proxy behind it, so it is never widened: a
// named UDP port resolves against each peer pod (an entry per pod), and
// ranges past what the map holds are cut off and reported (fails closed).

import { selects } from '../policy/index.ts';
import {
  type Cidr,
  type ContainerPort,
  isIPBlockPeer,
  type Labels,
  NAMESPACE_NAME_LABEL,
  type NetworkPolicy,
  type Pod,
  type PolicyRule,
  parseCidr,
  podIPsOf,
  type Snapshot,
} from '../state/index.ts';
import {
  constants,
  PEER_PROTOCOLS,
  type PeerEntry,
  type PeerPorts,
  type PeerProtocol,
  type PeerTable,
} from '../tables/index.ts';
import { vipEgress } from './netpol-services.ts';

export {
  PEER_PROTOCOLS,
  type PeerEntry,
  type PeerPorts,
  type PeerProtocol,
  type PeerTable,
} from '../tables/index.ts';

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

/** 10.0.0.0/8, or the IPv6 prefix with its groups written out. */
function describePrefix(p: Prefix): string {
  if (p.bits >= 96 && p.net >> 32n === 0xffffn) {
    const v4 = Number(p.net & 0xffff_ffffn);
    return `${[24, 16, 8, 0].map((s) => (v4 >>> s) & 0xff).join('.')}/${p.bits - 96}`;
  }
  const hex = p.net.toString(16).padStart(32, '0');
  return `${hex.match(/.{4}/g)!.join(':')}/${p.bits}`;
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
const NONE: PeerPorts = { all: false, ranges: [] };

/**
 * The ports of one protocol a rule allows, or ALL. A named port resolves
 * against the destination pod: known for ingress (the workload itself); for
 * egress it is each peer's: for TCP the entry allows all ports and the proxy
 * checks exactly; for UDP the caller resolves it per peer pod (here it adds
 * nothing).
 */
function rulePorts(
  rule: PolicyRule,
  protocol: PeerProtocol,
  own?: readonly ContainerPort[],
): PeerPorts {
  if (rule.ports.length === 0) return ALL;
  let ranges: [number, number][] = [];
  for (const p of rule.ports) {
    if (p.protocol !== protocol) continue;
    if (p.port === undefined) return ALL;
    if (typeof p.port === 'string') {
      if (!own) {
        if (protocol === 'TCP') return ALL;
        continue;
      }
      const c = own.find((x) => x.name === p.port && x.protocol === protocol);
      if (c) ranges = [...ranges, [c.containerPort, c.containerPort]];
      continue;
    }
    ranges.push([p.port, p.endPort ?? p.port]);
  }
  return merged(ranges, protocol);
}

function union(a: PeerPorts, b: PeerPorts, protocol: PeerProtocol): PeerPorts {
  if (a.all || b.all) return ALL;
  // Both are merged already: nothing to merge when one is empty or they are the same.
  if (a === b || b.ranges.length === 0) return a;
  if (a.ranges.length === 0) return b;
  const m = merged([...a.ranges, ...b.ranges], protocol);
  return a.truncated || b.truncated ? { ...m, truncated: true } : m;
}

/**
 * Sorted, overlapping and adjacent ranges joined. More than the map holds:
 * all ports for TCP (the proxy checks exactly), the lowest ranges for UDP.
 */
function merged(ranges: readonly (readonly [number, number])[], protocol: PeerProtocol): PeerPorts {
  const rs = [...ranges].sort((x, y) => x[0] - y[0]);
  const out: [number, number][] = [];
  for (const [lo, hi] of rs) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  if (out.length <= constants.EGRESS_MAX_RANGES) return { all: false, ranges: out };
  if (protocol === 'TCP') return ALL;
  return { all: false, ranges: out.slice(0, constants.EGRESS_MAX_RANGES), truncated: true };
}

/** Whether prefix c covers prefix p. */
function within(p: Prefix, c: Prefix): boolean {
  if (c.bits > p.bits) return false;
  if (c.bits === 0) return true;
  const shift = BigInt(128 - c.bits);
  return p.net >> shift === c.net >> shift;
}

type Ports = Readonly<Record<PeerProtocol, PeerPorts>>;

interface Block {
  prefixes: Prefix[];
  excepts: Prefix[];
  /** Absent: the rule's. */
  ports?: Ports;
}

interface CompiledRule {
  /**
   * The rule's peers as blocks: an ipBlock with its own excepts, and one block
   * for all selected pods (an except never takes back what a pod peer allows);
   * for named UDP ports of egress, one more block per peer pod with its own.
   */
  readonly blocks: Block[];
  readonly ports: Ports;
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
    const ips = podIPsOf(pod);
    if (ips.length === 0) continue;
    // Every address of a dual-stack pod is the pod, for peers as for targets.
    for (const ip of ips) {
      const c = parseCidr(`${ip}/${ip.includes(':') ? 128 : 32}`);
      if (c) pods.push({ pod, prefix: toPrefix(c) });
    }
    if (!nsLabels.has(pod.namespace))
      nsLabels.set(pod.namespace, {
        ...(snap.namespaces.get(pod.namespace)?.labels ?? {}),
        [NAMESPACE_NAME_LABEL]: pod.namespace,
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
  const blocks: Block[] = [{ prefixes, excepts: [] }];
  // A named UDP port of an egress rule is each destination pod's own: no proxy
  // checks UDP, so it resolves here, per pod, into a block of the pod's /32.
  const namedUdp =
    !own && rule.ports.some((p) => p.protocol === 'UDP' && typeof p.port === 'string');
  const perPod = (within: (prefix: Prefix) => boolean) => {
    if (!namedUdp) return;
    for (const { pod, prefix } of indexOf(snap).pods)
      if (within(prefix))
        blocks.push({
          prefixes: [prefix],
          excepts: [],
          ports: { TCP: NONE, UDP: rulePorts(rule, 'UDP', pod.ports) },
        });
  };
  if (rule.peers.length === 0) {
    prefixes.push({ net: 0n, bits: 0 });
    perPod(() => true);
  }
  for (const peer of rule.peers) {
    if (isIPBlockPeer(peer)) {
      const c = parseCidr(peer.ipBlock.cidr);
      const excepts: Prefix[] = [];
      for (const e of peer.ipBlock.except) {
        const x = parseCidr(e);
        if (x) excepts.push(toPrefix(x));
      }
      if (c) {
        const block = toPrefix(c);
        blocks.push({ prefixes: [block], excepts });
        perPod((p) => within(p, block) && !excepts.some((x) => within(p, x)));
      }
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
      if (ok && (!peer.podSelector || selects(peer.podSelector, pod.labels))) {
        prefixes.push(prefix);
        if (namedUdp)
          blocks.push({
            prefixes: [prefix],
            excepts: [],
            ports: { TCP: NONE, UDP: rulePorts(rule, 'UDP', pod.ports) },
          });
      }
    }
  }
  return {
    blocks,
    ports: { TCP: rulePorts(rule, 'TCP', own), UDP: rulePorts(rule, 'UDP', own) },
  };
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
  // Indexed by block, in rule order; portsOf[block] is what the block allows.
  const allowing = new PrefixIndex();
  const excepting = new PrefixIndex();
  const portsOf: Ports[] = [];
  for (const r of rules) {
    for (const b of r.blocks) {
      const id = portsOf.push(b.ports ?? r.ports) - 1;
      for (const p of b.prefixes) {
        candidates.set(key(p), p);
        allowing.add(p, id);
      }
      for (const x of b.excepts) {
        candidates.set(key(x), x);
        excepting.add(x, id);
      }
    }
  }
  const covering = new Map<string, number[]>();
  for (const [k, cand] of candidates) {
    const excepted = excepting.covering(cand, new Set());
    const by: number[] = [];
    for (const b of allowing.covering(cand, new Set())) if (!excepted.has(b)) by.push(b);
    // In rule order, as the ports of several rules merge.
    covering.set(
      k,
      by.sort((a, b) => a - b),
    );
  }
  const entries = new Map<string, PeerEntry>();
  const unenforced: string[] = [];
  for (const protocol of PEER_PROTOCOLS) {
    // A protocol no rule opens anywhere needs no entries: no entry denies.
    if (portsOf.every((p) => !p[protocol].all && p[protocol].ranges.length === 0)) continue;
    for (const [k, cand] of candidates) {
      let ports: PeerPorts = NONE;
      for (const b of covering.get(k)!) ports = union(ports, portsOf[b]![protocol], protocol);
      entries.set(`${protocol}:${k}`, { protocol, addr: addrOf(cand), bits: cand.bits, ports });
      if (ports.truncated)
        unenforced.push(
          `${protocol} to ${describePrefix(cand)}: more than ${constants.EGRESS_MAX_RANGES} port ranges, only ${ports.ranges.map(([lo, hi]) => (lo === hi ? lo : `${lo}-${hi}`)).join(',')} let through`,
        );
    }
  }
  // A Service VIP is judged by the pods behind it (netpol-services.ts): its own exact entry
  // per protocol, needed only where it allows some port or a broader allowing prefix covers
  // the VIP (then the entry, with no ports, takes the VIP back).
  if (direction === 'egress')
    for (const v of vipEgress(snap, namespace, labels, selecting)) {
      const c = parseCidr(`${v.ip}/${v.ip.includes(':') ? 128 : 32}`);
      if (!c) continue;
      const p = toPrefix(c);
      if (v.ports.length === 0 && allowing.covering(p, new Set()).size === 0) continue;
      const ports = merged(
        v.ports.map((x) => [x, x] as const),
        v.protocol,
      );
      entries.set(`${v.protocol}:${key(p)}`, {
        protocol: v.protocol,
        addr: addrOf(p),
        bits: p.bits,
        ports,
      });
      if (ports.truncated)
        unenforced.push(
          `${v.protocol} to the Service VIP ${v.ip}: more than ${constants.EGRESS_MAX_RANGES} port ranges, only the lowest let through`,
        );
    }
  return {
    isolated: true,
    entries,
    policies: selecting.map((p) => `${p.namespace}/${p.name}`),
    ...(unenforced.length ? { unenforced } : {}),
  };
}

/** The egress table of a workload: what its connect()s and datagrams may reach. */
export function compileEgress(snap: Snapshot, namespace: string, labels: Labels): PeerTable {
  return compilePeerTable(snap, namespace, labels, 'egress');
}
