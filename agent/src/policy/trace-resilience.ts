// What a trace says of a matched rule's retry policy, timeouts and injected faults,
// and of the retry budget the client's proxy applies. Pure.
import type { ClusterObjects, RouteRetry, RouteTimeouts } from '../state/index.ts';

// The engine's defaults (l7/retry.ts, l7/retry-budget.ts; policy/ does not import l7/).
const BUDGET =
  'retry budget per client and Service port: at most 20% of the requests of the last 10 s plus 10 a second, and 64 retries outstanding at once (a DestinationRule connectionPool.http.maxRetries replaces 64)';

const ms = (n: number) => (n % 1000 === 0 ? `${n / 1000}s` : `${n}ms`);

/** The rule's retries and timeouts, with the budget over them. */
export function describeResilience(
  retry: RouteRetry | undefined,
  timeouts: RouteTimeouts | undefined,
): string {
  const parts: string[] = [];
  if (retry)
    parts.push(
      `retry: ${retry.codes.length ? `status ${retry.codes.join(', ')}` : 'no status'} up to ${retry.attempts} time(s), backoff from ${ms(retry.backoff ?? 25)} doubling with jitter (capped at 10×), each on another endpoint when there is one; bodies up to 64 KiB are resent, longer ones are not retried`,
    );
  else
    parts.push(
      'no retry policy: a connect failure or reset before any response is retried once on another endpoint (requests without a body)',
    );
  if (timeouts?.request)
    parts.push(`timeouts.request ${ms(timeouts.request)} over all attempts: 504 past it`);
  if (timeouts?.backendRequest)
    parts.push(`timeouts.backendRequest ${ms(timeouts.backendRequest)} per attempt`);
  parts.push(BUDGET);
  return parts.join('; ');
}

/** An HTTPFault a rule names: its delay and abort, or that it is missing (the rule answers 500). */
export function describeFault(
  cluster: ClusterObjects,
  ns: string,
  name: string,
): { text: string; missing: boolean } {
  const f = cluster.httpFaults?.get(`${ns}/${name}`);
  if (!f)
    return {
      text: `no HTTPFault ${ns}/${name}: the filter does not resolve, so the client's proxy answers 500 (ResolvedRefs False)`,
      missing: true,
    };
  const parts: string[] = [];
  if (f.delay) parts.push(`delays ${f.delay.percent}% of requests by ${ms(f.delay.ms)}`);
  if (f.abort) {
    const status = [
      f.abort.httpStatus !== undefined ? `HTTP ${f.abort.httpStatus}` : '',
      f.abort.grpcStatus !== undefined ? `gRPC status ${f.abort.grpcStatus}` : '',
    ]
      .filter(Boolean)
      .join(' / ');
    parts.push(`${f.delay ? 'then ' : ''}aborts ${f.abort.percent}% with ${status}`);
  }
  return { text: parts.join(', '), missing: false };
}
