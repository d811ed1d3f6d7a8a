// Connection counters, per direction. Plain integer fields: the hot path only
// increments them.
export class DirectionStats {
  accepted = 0;
  active = 0;
  /** Connections that could not be forwarded (no destination, connect failure). */
  failed = 0;
  /** Connections ended by a reset from either side. */
  reset = 0;
  /** Connections whose handler threw (a bug), aborted alone: contain.ts. */
  errors = 0;
  bytesFromClient = 0;
  bytesToClient = 0;
}

export class ProxyStats {
  readonly outbound = new DirectionStats();
  readonly inbound = new DirectionStats();
}

/** What the bounds turned away, for the status document and metrics. */
export class HboneCounters {
  /** Connections closed at accept: too many handshakes pending (from the source, in all) or open. */
  refusedConnections = 0;
  /** Connections closed for not finishing the handshake in time. */
  handshakeTimeouts = 0;
  /** Streams refused (REFUSED_STREAM) with the agent's stream bound reached. */
  refusedStreams = 0;
  /** CONNECTs that claimed a client address not of the peer's identity. */
  spoofedSources = 0;
}
