// The L7 engine's bounds, each written once; docs/l7-engine.md lists them.
export const L7_LIMITS = {
  /** Bytes of a request's or response's header block (HTTP/1.1 and HTTP/2): 431 / stream error beyond. */
  maxHeaderBytes: 16 * 1024,
  /** Upstream HTTP/1.1 connections per (source workload, endpoint). */
  connectionsPerEndpoint: 64,
  /** Idle upstream HTTP/1.1 connections kept per (source workload, endpoint). */
  idlePerEndpoint: 16,
  /** An idle upstream connection (or HTTP/2 session) closes after this, under most servers' 5 s. */
  upstreamIdleMs: 4_000,
  /** Requests waiting for an upstream connection or stream per (source workload, endpoint): 503 beyond. */
  queuedPerEndpoint: 256,
  /** Upstream pools (HTTP/1.1 agents and HTTP/2 sessions) the engine keeps; idle ones go first beyond. */
  pools: 4096,
  /** A request's header block arriving slower than this is answered 408 (checked every 5 s). */
  headersMs: 30_000,
  /** A client connection without a byte either way for this long is closed. */
  clientIdleMs: 60_000,
  /** HTTP/1.1 requests of one client connection in flight: reading pauses at this many. */
  pipelined: 64,
  /** Concurrent streams a client's HTTP/2 session may open. */
  clientStreams: 256,
  /** Mirrored requests in flight in the engine; more are not mirrored. */
  mirrorsInFlight: 64,
};
