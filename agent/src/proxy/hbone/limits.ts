// Bounds on what peers can hold in an agent's HBONE servers, shared by every
// server of the node (one per enrolled pod). Before the TLS handshake anyone
// who can reach podIP:15008 may connect, in or out of the mesh: such
// connections get a few seconds to finish the handshake, and there are at
// most so many of them per source address and per agent, so idle connections
// cannot take the agent's file descriptors or memory. After it, a peer holds
// streams, each of which may buffer up to ~2 MiB while its reader stalls
// (pipe.ts): streams are bounded per session (SETTINGS_MAX_CONCURRENT_STREAMS,
// both ends) and per agent, so memory stays within the chart's limit
// (docs/hbone.md has the numbers).
import type { Socket } from 'node:net';

export interface HboneLimits {
  /** A connection that has not finished its TLS handshake by then is closed. */
  readonly handshakeTimeoutMs: number;
  /** Connections still in their handshake from one source address. */
  readonly maxPendingPerSource: number;
  /** Connections still in their handshake, all sources, all servers of the agent. */
  readonly maxPending: number;
  /** SETTINGS_MAX_CONCURRENT_STREAMS both ends announce. */
  readonly maxStreamsPerSession: number;
  /** Open inbound streams, all sessions, all servers of the agent. */
  readonly maxStreams: number;
}

export const DEFAULT_HBONE_LIMITS: HboneLimits = {
  handshakeTimeoutMs: 5_000,
  maxPendingPerSource: 32,
  maxPending: 1024,
  maxStreamsPerSession: 100,
  maxStreams: 256,
};

/** What the bounds turned away, for the status document and metrics. */
export class HboneCounters {
  /** Connections closed at accept: too many handshakes pending from the source or in all. */
  refusedConnections = 0;
  /** Connections closed for not finishing the handshake in time. */
  handshakeTimeouts = 0;
  /** Streams refused (REFUSED_STREAM) with the agent's stream bound reached. */
  refusedStreams = 0;
  /** CONNECTs that claimed a client address not of the peer's identity. */
  spoofedSources = 0;
}

/** The agent-wide state of the bounds. */
export class HboneGuard {
  readonly limits: HboneLimits;
  readonly counters = new HboneCounters();
  private pending = 0;
  private readonly pendingBySource = new Map<string, number>();
  private streams = 0;

  constructor(limits: HboneLimits = DEFAULT_HBONE_LIMITS) {
    this.limits = limits;
  }

  /**
   * A new connection, counted as pending until the returned release runs (handshake
   * finished or socket closed); undefined when a bound is reached (the caller closes it).
   */
  admit(raw: Socket): (() => void) | undefined {
    const source = raw.remoteAddress ?? '';
    const n = this.pendingBySource.get(source) ?? 0;
    if (n >= this.limits.maxPendingPerSource || this.pending >= this.limits.maxPending) {
      this.counters.refusedConnections++;
      return undefined;
    }
    this.pendingBySource.set(source, n + 1);
    this.pending++;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.pending--;
      const left = (this.pendingBySource.get(source) ?? 1) - 1;
      if (left > 0) this.pendingBySource.set(source, left);
      else this.pendingBySource.delete(source);
    };
  }

  /** A new inbound stream, counted until the returned function runs; undefined at the bound. */
  stream(): (() => void) | undefined {
    if (this.streams >= this.limits.maxStreams) {
      this.counters.refusedStreams++;
      return undefined;
    }
    this.streams++;
    let held = true;
    return () => {
      if (held) this.streams--;
      held = false;
    };
  }

  /** Handshakes pending now (for tests and status). */
  pendingNow(): number {
    return this.pending;
  }
}

/**
 * Counts a spoofed client address and writes it to the agent's log as an attack, at most
 * one line per interval; the lines held back are counted in the next one.
 */
export function spoofReport(
  counters: HboneCounters,
  log: (line: string) => void,
  intervalMs = 1000,
): (detail: string) => void {
  let last = Number.NEGATIVE_INFINITY;
  let quiet = 0;
  return (detail) => {
    counters.spoofedSources++;
    const now = performance.now();
    if (now - last < intervalMs) {
      quiet++;
      return;
    }
    last = now;
    const more = quiet > 0 ? ` (${quiet} more since the last report)` : '';
    quiet = 0;
    log(
      `hbone: ATTACK? refused a CONNECT whose client address is not its certificate's${more}: ${detail}`,
    );
  };
}
