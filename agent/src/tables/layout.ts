// The one source of truth for every struct, constant and map shared by the BPF
// programs and TypeScript. `make layout` turns it into bpf/include/layout.h; a
// test proves the compiled objects' BTF matches it field by field.

export type Scalar = 'u8' | 'u16' | 'u32' | 'u64' | 'be16' | 'be32';
export type FieldType = Scalar | { readonly bytes: number };

export interface FieldSpec {
  readonly name: string;
  readonly type: FieldType;
}

export interface StructSpec {
  readonly name: string;
  readonly doc: string;
  readonly fields: readonly FieldSpec[];
}

export type MapType =
  | 'array'
  | 'hash'
  | 'lru_hash'
  | 'ringbuf'
  | 'sockmap'
  | 'sockhash'
  | 'lpm_trie';

/** A key or value is a struct or a bare scalar. */
export type Layout = StructSpec | Scalar;

export interface MapSpec {
  readonly name: string;
  readonly doc: string;
  readonly type: MapType;
  readonly key?: Layout;
  readonly value?: Layout;
  readonly maxEntries: number;
  /** Ring buffer records: not a key or value, but shared all the same. */
  readonly record?: StructSpec;
}

/** Bump on any change below: the agent compares it with the pinned `meta` map. */
export const LAYOUT_VERSION = 8;

export const constants = {
  LAYOUT_VERSION,
  PORT_OUTBOUND: 15001,
  PORT_INBOUND: 15006,
  PORT_HBONE: 15008,
  PORT_ADMIN: 15000,
  PORT_METRICS: 15020,
  PORT_HEALTH: 15021,
  /** meta.flags: splice the app↔proxy loopback hop with sockops + sk_msg. */
  META_F_SPLICE: 1,
  /** workload.flags and inbound_target.flags: strict mTLS, plaintext from outside the mesh is refused. */
  WL_F_STRICT: 1,
  /**
   * workload.flags: a NetworkPolicy isolates the workload for egress; egress_allow lists what it may reach.
   * Mirrored in inbound_target.flags: sk_lookup then remembers UDP it admits, so the answers may leave.
   */
  WL_F_EGRESS_ISOLATED: 2,
  /**
   * inbound_target.flags: a NetworkPolicy isolates the workload for ingress; ingress_allow lists its sources.
   * Mirrored in workload.flags: sendmsg then remembers UDP it sends, so the answers may come in.
   */
  WL_F_INGRESS_ISOLATED: 4,
  /** workload.flags / inbound_target.flags: which generation of egress_allow / ingress_allow is live. */
  WL_F_EGRESS_GEN: 8,
  WL_F_INGRESS_GEN: 16,
  /** The generation bit in egress_prefix.workload_id. */
  POLICY_GEN_BIT: 0x80000000,
  /** egress_ports.flags: any port (set where ranges would not fit; the proxy then checks exactly). */
  EGRESS_F_ALL_PORTS: 1,
  /** egress_ports.ranges holds this many (lo, hi) u16 pairs. */
  EGRESS_MAX_RANGES: 8,
  /** event.kind */
  EV_CONNECT: 1,
  EV_SK_LOOKUP: 2,
  /** A datagram sent without connect() (cgroup/sendmsg4|6). */
  EV_SENDMSG: 3,
  /** egress_prefix.protocol and event.protocol: IP protocol numbers. */
  PROTO_TCP: 6,
  PROTO_UDP: 17,
  /** How long after a UDP datagram its answer is let through (udp_flows), as conntrack's UDP timeout. */
  UDP_FLOW_NS: 30_000_000_000,
  /** Events for refused UDP datagrams per node and second; the rest are counted in event_budget. */
  DATAGRAM_EVENTS_PER_S: 1000,
  /** event.verdict */
  VERDICT_ALLOW: 1,
  VERDICT_DENY: 2,
  VERDICT_REDIRECT: 3,
  AF_INET: 2,
  AF_INET6: 10,
} as const;

const struct = (name: string, doc: string, fields: FieldSpec[]): StructSpec => ({
  name,
  doc,
  fields,
});
const f = (name: string, type: FieldType): FieldSpec => ({ name, type });
const addr = (name: string): FieldSpec => f(name, { bytes: 16 });

export const Meta = struct('weft_meta', 'Map-layout version and node-wide switches.', [
  f('layout_version', 'u32'),
  f('flags', 'u32'),
]);

export const Workload = struct('weft_workload', 'An enrolled cgroup: which workload it is.', [
  f('id', 'u32'),
  f('flags', 'u32'),
]);

export const OrigDst = struct(
  'weft_orig_dst',
  'Where a redirected connection was going; IPv4 sits in addr[0..4).',
  [addr('addr'), f('port', 'be16'), f('family', 'u16'), f('workload_id', 'u32')],
);

export const EgressPrefix = struct(
  'weft_egress_prefix',
  'LPM key: a workload and an IP protocol, then a peer prefix (IPv4 as ::ffff:a.b.c.d); prefixlen counts workload_id and protocol too.',
  [f('prefixlen', 'u32'), f('workload_id', 'u32'), f('protocol', 'u32'), addr('addr')],
);

export const EgressPorts = struct(
  'weft_egress_ports',
  'Ports a prefix is allowed on: count (lo, hi) u16 pairs in ranges, host order.',
  [f('policy_id', 'u32'), f('flags', 'u16'), f('count', 'u16'), f('ranges', { bytes: 32 })],
);

export const InboundKey = struct('weft_inbound_key', 'A local address sk_lookup steers.', [
  addr('addr'),
  f('port', 'u16'),
  f('family', 'u16'),
]);

export const InboundTarget = struct(
  'weft_inbound_target',
  'Where sk_lookup sends a steered address, and how strictly.',
  [f('sock_index', 'u32'), f('workload_id', 'u32'), f('flags', 'u32')],
);

export const ConnKey = struct(
  'weft_conn_key',
  'A redirected connection as the proxy sees it: which workload, from which local port.',
  [f('workload_id', 'u32'), f('port', 'u16'), f('family', 'u16')],
);

export const SockKey = struct('weft_sock_key', 'One end of a loopback connection.', [
  f('netns', 'u64'),
  f('local_ip4', 'be32'),
  f('remote_ip4', 'be32'),
  f('local_port', 'u32'),
  f('remote_port', 'u32'),
]);

export const Event = struct('weft_event', 'A datapath verdict, sent through the ring buffer.', [
  f('ts_ns', 'u64'),
  f('cgroup_id', 'u64'),
  f('cookie', 'u64'),
  f('workload_id', 'u32'),
  f('policy_id', 'u32'),
  addr('addr'),
  f('port', 'be16'),
  f('family', 'u16'),
  f('rule', 'u16'),
  f('kind', 'u8'),
  f('verdict', 'u8'),
  f('protocol', 'u8'),
  f('pad', { bytes: 7 }),
]);

export const UdpFlowKey = struct(
  'weft_udp_flow',
  'A UDP exchange of a workload: its local port and the peer (IPv4 as ::ffff:a.b.c.d).',
  [
    f('workload_id', 'u32'),
    f('local_port', 'u16'),
    f('remote_port', 'be16'),
    f('family', 'u16'),
    f('pad', 'u16'),
    addr('addr'),
  ],
);

export const EventBudget = struct(
  'weft_event_budget',
  'Datagram refusal events sent in the current second, and those left out since the maps were made.',
  [f('window_ns', 'u64'), f('sent', 'u32'), f('suppressed', 'u32')],
);

export const MeshPeerKey = struct(
  'weft_mesh_peer',
  'The address of a pod in the mesh anywhere in the cluster (IPv4 as ::ffff:a.b.c.d).',
  [addr('addr')],
);

export const structs: readonly StructSpec[] = [
  Meta,
  Workload,
  OrigDst,
  EgressPrefix,
  EgressPorts,
  InboundKey,
  InboundTarget,
  ConnKey,
  SockKey,
  Event,
  UdpFlowKey,
  EventBudget,
  MeshPeerKey,
];

export const maps: readonly MapSpec[] = [
  {
    name: 'meta',
    doc: 'Entry 0: layout version and switches.',
    type: 'array',
    key: 'u32',
    value: Meta,
    maxEntries: 1,
  },
  {
    name: 'enrolled',
    doc: 'cgroup id → workload; absent means not in the mesh.',
    type: 'hash',
    key: 'u64',
    value: Workload,
    maxEntries: 16384,
  },
  {
    name: 'orig_dst',
    doc: 'socket cookie → original destination of a redirected connect().',
    type: 'lru_hash',
    key: 'u64',
    value: OrigDst,
    maxEntries: 65536,
  },
  {
    name: 'conn_orig',
    doc: 'Established redirected connection → original destination, for the proxy on accept.',
    type: 'lru_hash',
    key: ConnKey,
    value: OrigDst,
    maxEntries: 65536,
  },
  {
    name: 'egress_allow',
    doc: 'What an egress-isolated workload may reach, per protocol (NetworkPolicy egress), longest prefix wins.',
    type: 'lpm_trie',
    key: EgressPrefix,
    value: EgressPorts,
    maxEntries: 65536,
  },
  {
    name: 'ingress_allow',
    doc: 'Sources an ingress-isolated workload admits in plaintext, per protocol (NetworkPolicy ingress), by its local port.',
    type: 'lpm_trie',
    key: EgressPrefix,
    value: EgressPorts,
    maxEntries: 65536,
  },
  {
    name: 'inbound_targets',
    doc: 'Local address (port 0: any port) → its listener in inbound_socks and its mode.',
    type: 'hash',
    key: InboundKey,
    value: InboundTarget,
    maxEntries: 16384,
  },
  {
    name: 'inbound_socks',
    doc: 'Listening sockets sk_lookup may steer to.',
    type: 'sockmap',
    key: 'u32',
    value: 'u64',
    maxEntries: 16384,
  },
  {
    name: 'splice_socks',
    doc: 'Established loopback sockets of enrolled workloads, for sk_msg.',
    type: 'sockhash',
    key: SockKey,
    value: 'u64',
    maxEntries: 65536,
  },
  {
    name: 'udp_flows',
    doc: 'UDP exchanges an enrolled workload took part in → when its last datagram went by (ns); answers within UDP_FLOW_NS pass as replies.',
    type: 'lru_hash',
    key: UdpFlowKey,
    value: 'u64',
    maxEntries: 65536,
  },
  {
    name: 'event_budget',
    doc: 'Entry 0: how many datagram refusal events went out this second (at most DATAGRAM_EVENTS_PER_S), and how many were left out.',
    type: 'array',
    key: 'u32',
    value: EventBudget,
    maxEntries: 1,
  },
  {
    name: 'mesh_peers',
    doc: 'Addresses of mesh pods cluster-wide: strict mTLS admits UDP from these only.',
    type: 'hash',
    key: MeshPeerKey,
    value: 'u32',
    maxEntries: 65536,
  },
  {
    name: 'events',
    doc: 'Verdict events to userspace.',
    type: 'ringbuf',
    maxEntries: 256 * 1024,
    record: Event,
  },
];

const scalarSize: Record<Scalar, number> = { u8: 1, u16: 2, u32: 4, u64: 8, be16: 2, be32: 4 };

export function fieldSize(t: FieldType): number {
  return typeof t === 'string' ? scalarSize[t] : t.bytes;
}

function fieldAlign(t: FieldType): number {
  return typeof t === 'string' ? scalarSize[t] : 1;
}

export interface PlacedField extends FieldSpec {
  readonly offset: number;
  readonly size: number;
}

export interface StructLayout {
  readonly spec: StructSpec;
  readonly size: number;
  readonly fields: readonly PlacedField[];
}

/**
 * Places fields by C's natural alignment and refuses implicit padding: every
 * byte is named, so C and TS can never disagree on what a hole holds.
 */
export function place(spec: StructSpec): StructLayout {
  let offset = 0;
  let maxAlign = 1;
  const fields: PlacedField[] = [];
  for (const field of spec.fields) {
    const align = fieldAlign(field.type);
    const size = fieldSize(field.type);
    if (offset % align !== 0) {
      throw new Error(`${spec.name}.${field.name}: offset ${offset} needs explicit padding`);
    }
    fields.push({ ...field, offset, size });
    offset += size;
    maxAlign = Math.max(maxAlign, align);
  }
  if (offset % maxAlign !== 0) {
    throw new Error(`${spec.name}: size ${offset} needs explicit tail padding to ${maxAlign}`);
  }
  return { spec, size: offset, fields };
}

export function layoutSize(l: Layout): number {
  return typeof l === 'string' ? scalarSize[l] : place(l).size;
}
