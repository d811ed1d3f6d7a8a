// Istio's DestinationRule (networking.istio.io/v1 and v1beta1), as far as weft applies
// it: a Service host's load balancer, connection-pool limits and outlier detection, at
// the top level and per port. Durations are in milliseconds. docs/resilience.md.

export type LbSimple = 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM';

export interface OutlierDetection {
  readonly consecutive5xxErrors?: number;
  readonly consecutiveGatewayErrors?: number;
  readonly intervalMs?: number;
  readonly baseEjectionMs?: number;
  readonly maxEjectionPercent?: number;
}

/** connectionPool.tcp and connectionPool.http, flattened; absent fields are not set. */
export interface ConnectionPool {
  readonly maxConnections?: number;
  readonly connectTimeoutMs?: number;
  readonly http1MaxPendingRequests?: number;
  readonly http2MaxRequests?: number;
  readonly maxRequestsPerConnection?: number;
  readonly maxRetries?: number;
  readonly idleTimeoutMs?: number;
}

/**
 * The parts of a trafficPolicy (or of one portLevelSettings entry) weft reads; absent:
 * not written. A part written at a port replaces the top level's whole, as in Istio.
 */
export interface TrafficSettings {
  readonly lb?: LbSimple;
  readonly pool?: ConnectionPool;
  readonly outlier?: OutlierDetection;
}

export interface DestinationRule {
  readonly namespace: string;
  readonly name: string;
  /** spec.host as written. */
  readonly host: string;
  /** The Service spec.host names: `namespace/name`. */
  readonly service: string;
  /** metadata.creationTimestamp (ms since epoch; 0 when unknown): the oldest rule for a host wins. */
  readonly created: number;
  readonly settings: TrafficSettings;
  readonly ports: readonly { readonly port: number; readonly settings: TrafficSettings }[];
}
