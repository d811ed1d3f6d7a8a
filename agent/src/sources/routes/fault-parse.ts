// One weft.dev/v1alpha1 HTTPFault document → the faults a route rule's ExtensionRef
// filter injects, or an error naming each wrong field. Istio's HTTPFaultInjection
// shape: `delay: {fixedDelay, percentage}`, `abort: {httpStatus | grpcStatus,
// percentage}`, percentages as floats from 0 to 100 (100 when absent). Pure.
import type { FaultAbort, FaultDelay, HttpFault, ObjectError } from '../../state/index.ts';
import { describe, isAbsent } from '../fields.ts';
import { type RouteReporter, readHead } from './reader.ts';

export const FAULT_GROUP = 'weft.dev';
export const FAULT_API_VERSIONS: readonly string[] = [`${FAULT_GROUP}/v1alpha1`];

/** gRPC status names (as Istio's grpcStatus takes them) → codes. */
export const GRPC_STATUS_CODES: Readonly<Record<string, number>> = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
};

/** A fault's delay is at most this long (an hour: longer holds a client and a request slot for nothing). */
export const MAX_FAULT_DELAY_MS = 3_600_000;

export interface FaultParseResult {
  readonly fault?: HttpFault;
  readonly errors: ObjectError[];
  readonly id?: string;
}

export function isFaultDocument(doc: Record<string, unknown>): boolean {
  return (
    doc.kind === 'HTTPFault' &&
    typeof doc.apiVersion === 'string' &&
    doc.apiVersion.startsWith(`${FAULT_GROUP}/`)
  );
}

function percentage(v: unknown, f: string, r: RouteReporter): number | undefined {
  if (isAbsent(v)) return 100;
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 100) return v;
  r.add(f, `expected a number from 0 to 100 (a float), found ${describe(v)}`);
  return undefined;
}

function readDelay(v: unknown, f: string, r: RouteReporter): FaultDelay | undefined {
  const m = r.map(v, f, true);
  if (!m) return undefined;
  r.known(m, f, ['fixedDelay', 'percentage']);
  const ms = r.duration(m.fixedDelay, `${f}.fixedDelay`);
  if (ms !== undefined && (ms < 1 || ms > MAX_FAULT_DELAY_MS))
    r.add(`${f}.fixedDelay`, `expected from 1ms to 1h, found ${describe(m.fixedDelay)}`);
  const percent = percentage(m.percentage, `${f}.percentage`, r);
  return ms === undefined || percent === undefined ? undefined : { ms, percent };
}

function readAbort(v: unknown, f: string, r: RouteReporter): FaultAbort | undefined {
  const m = r.map(v, f, true);
  if (!m) return undefined;
  r.known(m, f, ['httpStatus', 'grpcStatus', 'percentage']);
  const http = isAbsent(m.httpStatus)
    ? undefined
    : r.int(m.httpStatus, `${f}.httpStatus`, 200, 599);
  let grpc: number | undefined;
  if (!isAbsent(m.grpcStatus)) {
    const code = typeof m.grpcStatus === 'string' ? GRPC_STATUS_CODES[m.grpcStatus] : undefined;
    if (code === undefined || code === 0)
      r.add(
        `${f}.grpcStatus`,
        `expected a gRPC status name other than OK (${Object.keys(GRPC_STATUS_CODES).slice(1).join(', ')}), found ${describe(m.grpcStatus)}`,
      );
    else grpc = code;
  }
  if (isAbsent(m.httpStatus) && isAbsent(m.grpcStatus))
    r.add(f, 'expected httpStatus or grpcStatus, found neither');
  const percent = percentage(m.percentage, `${f}.percentage`, r);
  if (percent === undefined || (http === undefined && grpc === undefined)) return undefined;
  return {
    ...(http !== undefined ? { httpStatus: http } : {}),
    ...(grpc !== undefined ? { grpcStatus: grpc } : {}),
    percent,
  };
}

export function parseHttpFault(
  file: string,
  doc: Record<string, unknown>,
  index: number,
): FaultParseResult {
  const { r, id, name, namespace } = readHead(file, doc, index, 'HTTPFault', FAULT_API_VERSIONS);
  const spec = r.map(doc.spec, 'spec', true);
  let delay: FaultDelay | undefined;
  let abort: FaultAbort | undefined;
  if (spec) {
    r.known(spec, 'spec', ['delay', 'abort']);
    if (isAbsent(spec.delay) && isAbsent(spec.abort))
      r.add('spec', 'expected delay, abort or both, found neither');
    if (!isAbsent(spec.delay)) delay = readDelay(spec.delay, 'spec.delay', r);
    if (!isAbsent(spec.abort)) abort = readAbort(spec.abort, 'spec.abort', r);
  }
  if (r.errors.length > 0 || !name || !namespace)
    return { errors: r.errors, ...(id ? { id } : {}) };
  return {
    fault: { namespace, name, ...(delay ? { delay } : {}), ...(abort ? { abort } : {}) },
    errors: [],
    id: id!,
  };
}
