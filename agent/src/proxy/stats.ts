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
