// What a DestinationRule compiles to for one Service port: the balancer, the
// connection-pool limits (circuit breaking) and outlier detection the L7 engine
// and the outbound L4 path apply to requests and connections from this node.
// Absent fields take the engine's defaults (docs/resilience.md).

/** trafficPolicy.loadBalancer.simple; EWMA is weft's default (P2C least-request weighted by latency). */
export type LbPolicy = 'EWMA' | 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM';

export interface CompiledOutlierDetection {
  /** Consecutive 5xx (and gateway errors) before ejection; 0 turns the check off. */
  readonly consecutive5xxErrors: number;
  /** Consecutive 502/503/504, resets and connect failures before ejection; 0: off. */
  readonly consecutiveGatewayErrors: number;
  readonly intervalMs: number;
  /** Ejection lasts baseEjectionMs × times ejected. */
  readonly baseEjectionMs: number;
  /** 0–100: never more of a pool is ejected at once. */
  readonly maxEjectionPercent: number;
}

export interface CompiledTrafficPolicy {
  /** `DestinationRule namespace/name` (with the port when a portLevelSettings entry applied): what a trace and status name. */
  readonly from: string;
  readonly lb: LbPolicy;
  /** connectionPool.tcp */
  readonly maxConnections?: number;
  readonly connectTimeoutMs?: number;
  /** connectionPool.http */
  readonly http1MaxPendingRequests?: number;
  readonly http2MaxRequests?: number;
  readonly maxRequestsPerConnection?: number;
  /** Retries outstanding at once to the Service port (all endpoints). */
  readonly maxRetries?: number;
  readonly idleTimeoutMs?: number;
  readonly outlier?: CompiledOutlierDetection;
}

/** `namespace/name:port` of a Service port → its policy; a port not in the map takes the defaults. */
export type TrafficPolicies = ReadonlyMap<string, CompiledTrafficPolicy>;
