// Bounds on what peers can hold in an agent's HBONE servers, shared by every
// server of the node (one per enrolled pod). Before the TLS handshake anyone
// who can reach podIP:15008 may connect, in or out of the mesh: such
// connections get a few seconds to finish the handshake, and there are at
// most so many of them per source address and per agent, so idle connections
// cannot take the agent's file descriptors or memory. After it, a peer holds
// connections and streams; a stream whose reader stalls holds up to ~4.25 MiB
// (its 4 MiB window received, 256 KiB queued to the app: pipe.ts, tls.ts), so
// streams are bounded per session (SETTINGS_MAX_CONCURRENT_STREAMS, both ends)
// and per agent, and connections per agent, to keep the worst case within the
// chart's memory limit (docs/architecture.md, "Identity and mTLS", has the numbers).
import { HboneCounters } from '../../telemetry/index.ts';
import { throttled } from '../contain.ts';

export { HboneCounters };

import type { Socket } from 'node:net';

export interface HboneLimits {
  /** A connection that has not finished its TLS handshake by then is closed. */
  readonly handshakeTimeoutMs: number;
  /** Connections still in their handshake from one source address. */
  readonly maxPendingPerSource: number;
  /** Connections still in their handshake, all sources, all servers of the agent. */
  readonly maxPending: number;
  /** Connections open, in their handshake or established, all servers of the agent. */
  readonly maxConnections: number;
  /** SETTINGS_MAX_CONCURRENT_STREAMS both ends announce. */
  readonly maxStreamsPerSession: number;
  /** Open inbound streams, all sessions, all servers of the agent. */
  readonly maxStreams: number;
}

export const DEFAULT_HBONE_LIMITS: HboneLimits = {
  handshakeTimeoutMs: 5_000,
  maxPendingPerSource: 32,
  maxPending: 256,
  maxConnections: 512,
  maxStreamsPerSession: 100,
  maxStreams: 128,
};

/** The agent-wide state of the bounds. */
export class HboneGuard {
  readonly limits: HboneLimits;
  readonly counters = new HboneCounters();
  private pending = 0;
  private open = 0;
  private readonly pendingBySource = new Map<string, number>();
  private streams = 0;

  constructor(limits: HboneLimits = DEFAULT_HBONE_LIMITS) {
    this.limits = limits;
  }

  /**
   * A new connection, counted until it closes, and as pending until the returned function
   * runs (its handshake finished); undefined when a bound is reached (the caller closes it).
   */
  admit(raw: Socket): (() => void) | undefined {
    const source = raw.remoteAddress ?? '';
    const n = this.pendingBySource.get(source) ?? 0;
    const l = this.limits;
    if (
      n >= l.maxPendingPerSource ||
      this.pending >= l.maxPending ||
      this.open >= l.maxConnections
    ) {
      this.counters.refusedConnections++;
      return undefined;
    }
    this.pendingBySource.set(source, n + 1);
    this.pending++;
    this.open++;
    let pending = true;
    const handshook = () => {
      if (!pending) return;
      pending = false;
      this.pending--;
      const left = (this.pendingBySource.get(source) ?? 1) - 1;
      if (left > 0) this.pendingBySource.set(source, left);
      else this.pendingBySource.delete(source);
    };
    raw.once('close', () => {
      handshook();
      this.open--;
    });
    return handshook;
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
  const write = throttled<string>(intervalMs, (more, detail) =>
    log(
      `hbone: ATTACK? refused a CONNECT whose client address is not its certificate's${more}: ${detail}`,
    ),
  );
  return (detail) => {
    counters.spoofedSources++;
    write(detail);
  };
}
