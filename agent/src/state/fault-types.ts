// weft.dev/v1alpha1 HTTPFault: the faults an HTTPRoute or GRPCRoute rule injects
// through an ExtensionRef filter, with Istio's semantics (the delay first, then
// the abort, each drawn for a share of the requests).

export interface FaultDelay {
  /** spec.delay.fixedDelay in ms. */
  readonly ms: number;
  /** 0–100, a float: the share of requests delayed. */
  readonly percent: number;
}

export interface FaultAbort {
  /** The HTTP status answered (200–599); for a gRPC request without grpcStatus, its gRPC equivalent. */
  readonly httpStatus?: number;
  /** The gRPC status code answered to a gRPC request (from the status name). */
  readonly grpcStatus?: number;
  /** 0–100, a float: the share of requests aborted. */
  readonly percent: number;
}

export interface HttpFault {
  readonly namespace: string;
  readonly name: string;
  readonly delay?: FaultDelay;
  readonly abort?: FaultAbort;
}
