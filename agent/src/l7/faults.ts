// A rule's HTTPFault applied to one request, Istio's way: the delay and the abort
// are drawn apart, each for its percentage of requests; a delayed request is then
// aborted or sent on. Pure: the draw comes from the engine's injected random source.
import type { FaultAbort } from '../state/index.ts';
import type { CompiledFault } from '../tables/index.ts';
import { grpcStatusFor } from './grpc-status.ts';

/** Whether a draw of `rand` falls in `percent` (0–100, a float). */
const hit = (percent: number, rand: () => number) =>
  percent >= 100 || (percent > 0 && rand() * 100 < percent);

/** The delay (ms) this request takes, 0 for none. */
export function faultDelay(f: CompiledFault, rand: () => number): number {
  const d = f.delay;
  return d && hit(d.percent, rand) ? d.ms : 0;
}

/** The abort this request takes, or undefined. */
export function faultAbort(f: CompiledFault, rand: () => number): FaultAbort | undefined {
  const a = f.abort;
  return a && hit(a.percent, rand) ? a : undefined;
}

// gRPC's status → HTTP status, for an HTTP request an abort gives only a grpcStatus
// (the gRPC-to-HTTP table of Google's API design guide).
const HTTP_FOR_GRPC: Readonly<Record<number, number>> = {
  1: 499,
  3: 400,
  4: 504,
  5: 404,
  6: 409,
  7: 403,
  8: 429,
  9: 400,
  10: 409,
  11: 400,
  12: 501,
  14: 503,
  16: 401,
};

/** The HTTP status an abort answers (`grpc`: the request is gRPC and the status says so itself). */
export function abortStatus(a: FaultAbort, grpc: boolean): number {
  if (a.httpStatus !== undefined && !(grpc && a.grpcStatus !== undefined)) return a.httpStatus;
  return HTTP_FOR_GRPC[a.grpcStatus ?? 2] ?? 500;
}

/** The gRPC status an abort answers a gRPC request. */
export function abortGrpcStatus(a: FaultAbort): number {
  return a.grpcStatus ?? grpcStatusFor(a.httpStatus ?? 500, 'fault_abort');
}
