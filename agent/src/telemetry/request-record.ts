// One finished HTTP or gRPC request, as the L7 engine reports it to telemetry
// (metrics, access log, traces). The engine fills one object per request and
// hands it over once; telemetry never keeps it.

export interface RequestRecord {
  /** Which proxy saw it: the client's node (`source`) or the server's (`destination`). */
  readonly reporter: 'source' | 'destination';
  /** `namespace/name` of the source and destination pods, when known. */
  readonly sourcePod?: string;
  readonly destinationPod?: string;
  /** The peer's SPIFFE ID (destination side) or the server's (source side), when mTLS. */
  readonly sourcePrincipal?: string;
  readonly destinationPrincipal?: string;
  /** `namespace/name` of the Service the request was sent to, when it went to a VIP. */
  readonly destinationService?: string;
  /** `HTTPRoute ns/name` and rule index, when a route took it. */
  readonly route?: string;
  readonly protocol: 'http' | 'http2' | 'grpc';
  readonly method: string;
  /** Path without the query (never a metric label). */
  readonly path: string;
  readonly authority: string;
  readonly status: number;
  /** grpc-status, for gRPC. */
  readonly grpcStatus?: number;
  /** Why weft answered or failed the request itself: '' when the app answered; else e.g. `policy`, `no_route`, `no_healthy_upstream`, `timeout`, `upstream_reset`, `overflow`. */
  readonly responseFlags: string;
  readonly mtls: boolean;
  /** ms since epoch when the request's first byte arrived, and its duration in ms. */
  readonly start: number;
  readonly durationMs: number;
  readonly requestBytes: number;
  readonly responseBytes: number;
  /** W3C trace context, when the request carried or was given one. */
  readonly traceparent?: string;
}

/** Where the engine hands finished requests; telemetry implements it. */
export interface RequestSink {
  request(r: RequestRecord): void;
}

export const noRequestSink: RequestSink = { request() {} };
