// A workload's NetworkPolicy table as the kernel's LPM maps hold it: one entry per
// prefix and protocol, with the ports it opens.
import type { Protocol } from '../state/index.ts';

export interface PeerPorts {
  readonly all: boolean;
  /** Merged, sorted, inclusive (lo, hi). */
  readonly ranges: readonly (readonly [number, number])[];
  /** UDP only: more ranges than the map holds; the lowest ones are kept, the rest denied. */
  readonly truncated?: boolean;
}

/** The protocols the kernel polices (SCTP is refused when a policy is read). */
export type PeerProtocol = Extract<Protocol, 'TCP' | 'UDP'>;
export const PEER_PROTOCOLS: readonly PeerProtocol[] = ['TCP', 'UDP'];

export interface PeerEntry {
  /** Which protocol's ports these are: the map keys each protocol apart. */
  readonly protocol: PeerProtocol;
  /** 16 bytes; IPv4 as ::ffff:a.b.c.d. */
  readonly addr: Buffer;
  /** Bits of addr that count (0..128). */
  readonly bits: number;
  readonly ports: PeerPorts;
}

export interface PeerTable {
  readonly isolated: boolean;
  /** Keyed by `protocol:addr-hex/bits`. */
  readonly entries: ReadonlyMap<string, PeerEntry>;
  /** namespace/name of the policies that isolate the workload. */
  readonly policies: readonly string[];
  /** What the kernel enforces more narrowly than the policy says (UDP port ranges cut off). */
  readonly unenforced?: readonly string[];
}
