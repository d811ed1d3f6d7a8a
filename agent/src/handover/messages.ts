// The handover protocol between the agent running on a node (the giver) and the one
// taking over from it (the taker), over a unix SOCK_SEQPACKET socket: one JSON
// message per packet, fds beside it (SCM_RIGHTS). docs/upgrades.md tells the story.
//
//   taker → hello                 giver → offer, listeners × workloads, offer-end
//   taker → accepting (its listeners serve, its sk_lookup entries are written)
//   giver → relays × n (moved connections), draining … (every DRAIN_REPORT_MS), done
import type { RelayDirection } from '../datapath/index.ts';
import type { DrainCounts } from '../proxy/index.ts';

export const PROTOCOL_VERSION = 1;

/** The taker gives up when the giver has not offered, or not finished offering, by then. */
export const HANDOVER_TIMEOUT_MS = 10_000;
/** The giver goes back to serving alone when the taker has not accepted by then. */
export const ACCEPT_TIMEOUT_MS = 30_000;
/** Default time the old agent keeps serving what it could not hand over. */
export const DEFAULT_DRAIN_GRACE_MS = 30_000;
/** Relayed connections per `relays` message (6 fds each, under the addon's 64 per message). */
export const RELAYS_PER_MESSAGE = 10;
/** Workloads offered at most: more than the datapath's 8,191 ids is a corrupt offer. */
export const MAX_OFFERED_WORKLOADS = 8191;
/** How often a draining giver moves newly relayed connections and reports. */
export const DRAIN_TICK_MS = 100;
export const DRAIN_REPORT_MS = 500;

export interface OfferedListener {
  role: 'outbound' | 'inbound' | 'hbone';
  address: string;
  port: number;
}

export interface RelayState {
  /** Which of the proxy's counters carries it. */
  direction: 'outbound' | 'inbound';
  ab: Omit<RelayDirection, 'pipeRead' | 'pipeWrite'>;
  ba: Omit<RelayDirection, 'pipeRead' | 'pipeWrite'>;
}

export type Message =
  | { t: 'hello'; version: number; pid: number }
  | { t: 'refused'; reason: string }
  | { t: 'offer'; version: number; pid: number; generation: number; startedAt: string }
  | { t: 'listeners'; key: string; netnsPath: string; listeners: OfferedListener[] }
  | { t: 'offer-end'; workloads: number }
  | { t: 'accepting' }
  | { t: 'relays'; relays: RelayState[] }
  | { t: 'draining'; counts: DrainCounts; graceLeftMs: number }
  | { t: 'done'; counts: DrainCounts; reason: 'drained' | 'grace period over' };

/** Parses one packet; anything else is a protocol error naming what was wrong. */
export function parseMessage(data: Buffer): Message {
  let m: unknown;
  try {
    m = JSON.parse(data.toString('utf8'));
  } catch (e) {
    throw new Error(`handover: message is not JSON: ${(e as Error).message}`);
  }
  const t = (m as { t?: unknown })?.t;
  const known = [
    'hello',
    'refused',
    'offer',
    'listeners',
    'offer-end',
    'accepting',
    'relays',
    'draining',
    'done',
  ];
  if (typeof t !== 'string' || !known.includes(t))
    throw new Error(`handover: unknown message type ${JSON.stringify(t)}`);
  return m as Message;
}
