// The gRPC status a request the engine answers itself carries (gRPC's own
// HTTP-to-status table, with timeouts as DEADLINE_EXCEEDED).
export const GRPC = {
  INTERNAL: 13,
  UNIMPLEMENTED: 12,
  UNAVAILABLE: 14,
  DEADLINE_EXCEEDED: 4,
  UNKNOWN: 2,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
} as const;

export function grpcStatusFor(httpStatus: number, flag: string): number {
  if (flag === 'timeout') return GRPC.DEADLINE_EXCEEDED;
  if (flag === 'rate_limited') return GRPC.RESOURCE_EXHAUSTED;
  switch (httpStatus) {
    case 400:
    case 500:
      return GRPC.INTERNAL;
    case 403:
      return GRPC.PERMISSION_DENIED;
    case 404:
      return GRPC.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return GRPC.UNAVAILABLE;
    default:
      return GRPC.UNKNOWN;
  }
}

export function isGrpc(contentType: unknown): boolean {
  return typeof contentType === 'string' && contentType.startsWith('application/grpc');
}
