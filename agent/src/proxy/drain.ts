// What the proxy does when another agent takes over its node (handover/): stop
// accepting everywhere while what is open carries on, and say what is still open.
// Listening sockets are the node's (they move to the new agent), so closing them here
// closes this process's copies only: a connection waiting in a backlog is the new
// agent's to accept.
import type { HbonePool } from './hbone/client.ts';
import { relayEverything, relaysLive } from './relay.ts';

/** What this process still carries while it drains. */
export interface DrainCounts {
  /** Connections carried in JavaScript: HBONE streams, TLS, joins not (yet) in the relay. */
  outbound: number;
  inbound: number;
  /** HBONE sessions served here (GOAWAY sent: no new streams). */
  hboneSessions: number;
  /** Client connections on the L7 path (each closes at its next response). */
  http: number;
  /** Connections in this process's kernel relay (moved to the new agent as they arrive there). */
  relayed: number;
}

/** What drain needs of a proxied workload. */
interface Draining {
  readonly listeners: { close(): void };
  readonly hbone: { drain(): void; openSessions(): number } | null;
}

export function stopAccepting(workloads: Iterable<Draining>, pool: HbonePool | null): void {
  for (const p of workloads) {
    p.listeners.close();
    p.hbone?.drain();
  }
  pool?.drain();
  // Only relayed connections move to the next agent: short ones too, from now on.
  relayEverything();
}

export function drainCounts(
  workloads: Iterable<Draining>,
  active: { outbound: number; inbound: number; http: number },
): DrainCounts {
  let hboneSessions = 0;
  for (const p of workloads) hboneSessions += p.hbone?.openSessions() ?? 0;
  const relayed = relaysLive();
  return {
    // Relayed connections count as active in their direction until they move.
    outbound: active.outbound,
    inbound: active.inbound,
    hboneSessions,
    http: active.http,
    relayed,
  };
}
