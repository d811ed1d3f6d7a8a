// How a request's (or connection's) outcome moves its endpoint: the latency estimate
// (peak EWMA), the consecutive failure counts, and outlier ejection as Envoy does it
// for Istio's outlierDetection: consecutive 5xx (connect failures, resets and timeouts
// count as 5xx, as Envoy maps them) or gateway errors (502, 503, 504 and the same local
// failures) → ejected for baseEjectionTime × times ejected (at most 300 s, or the base if
// longer), never more than maxEjectionPercent of the pool at once (but one always may
// be, as in Envoy, while one endpoint stays in); each interval in the pool takes one off
// the times ejected. docs/resilience.md.
import type { Endpoint } from '../state/index.ts';
import { type EndpointState, POOL_LIMITS, type PortPool } from './endpoint-pools.ts';

/** What became of one request or connection, as the balancer counts it. */
export const Outcome = {
  /** An answer below 500. */
  Success: 0,
  /** A 500, 501 or any 5xx that is not a gateway error. */
  ServerError: 1,
  /** A 502, 503 or 504 from the endpoint, or a connect failure, reset or timeout. */
  GatewayError: 2,
  /** Nothing to say about the endpoint (weft's own 503, the client gone). */
  None: 3,
} as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

/** A request's outcome from its status and response flag (l7/http1.ts BODIES). */
export function outcomeOf(status: number, flag: string): Outcome {
  if (flag === 'upstream_reset' || flag === 'timeout') return Outcome.GatewayError;
  if (flag !== '' || status === 0) return Outcome.None;
  if (status === 502 || status === 503 || status === 504) return Outcome.GatewayError;
  return status >= 500 ? Outcome.ServerError : Outcome.Success;
}

/**
 * The latency a request counts as in its endpoint's estimate: one the endpoint never
 * answered (`upstream_reset`: refused, reset) counts as POOL_LIMITS.unansweredMs at least,
 * so that a dead endpoint failing in microseconds is not the cheapest pick.
 */
export function latencyFor(ms: number, flag: string): number {
  return flag === 'upstream_reset' ? Math.max(ms, POOL_LIMITS.unansweredMs) : ms;
}

/** One more request or connection to `ep` in flight. */
export function started(pool: PortPool, ep: Endpoint): EndpointState {
  const s = pool.state(ep);
  s.outstanding++;
  s.requests++;
  pool.inFlight++;
  return s;
}

/** It finished: `latencyMs` (negative: not measured) and what came of it. */
export function finished(
  pool: PortPool,
  s: EndpointState,
  outcome: Outcome,
  latencyMs: number,
  now: number,
): void {
  if (s.outstanding > 0) s.outstanding--;
  if (pool.inFlight > 0) pool.inFlight--;
  if (outcome === Outcome.None) return;
  if (latencyMs >= 0) {
    measure(s, latencyMs, now);
    pool.rttMs = pool.rttMs === 0 ? latencyMs : pool.rttMs * 0.9 + latencyMs * 0.1;
  }
  if (outcome === Outcome.Success) {
    s.consecutive5xx = 0;
    s.consecutiveGateway = 0;
    return;
  }
  s.failures++;
  s.consecutive5xx++;
  if (outcome === Outcome.GatewayError) s.consecutiveGateway++;
  const od = pool.policy?.outlier;
  if (!od || s.ejectedUntil > now) return;
  const by5xx = od.consecutive5xxErrors > 0 && s.consecutive5xx >= od.consecutive5xxErrors;
  const byGateway =
    od.consecutiveGatewayErrors > 0 && s.consecutiveGateway >= od.consecutiveGatewayErrors;
  if (by5xx || byGateway) eject(pool, s, now);
}

/** Peak EWMA: a slower answer counts at once, a faster one pulls the estimate down with time. */
function measure(s: EndpointState, ms: number, now: number): void {
  if (s.at === 0) {
    s.ewmaMs = ms;
  } else {
    const dt = now - s.at;
    const est = dt > 0 ? s.ewmaMs * Math.exp(-dt / POOL_LIMITS.decayMs) : s.ewmaMs;
    if (ms > est) s.ewmaMs = ms;
    else {
      const w = dt > 0 ? Math.exp(-dt / POOL_LIMITS.decayMs) : 1;
      s.ewmaMs = est * w + ms * (1 - w);
    }
  }
  s.at = now;
}

function eject(pool: PortPool, s: EndpointState, now: number): void {
  const od = pool.policy!.outlier!;
  let out = 0;
  for (const e of pool.endpoints.values()) if (e.ejectedUntil > now) out++;
  const total = Math.max(pool.endpoints.size, pool.size);
  // One endpoint always stays in; beyond the first ejection, the percentage holds.
  if (out + 1 >= total) return;
  if (out > 0 && (100 * (out + 1)) / total > od.maxEjectionPercent) return;
  // Time in the pool since the last ejection ended wins back one step per interval.
  if (s.timesEjected > 0 && od.intervalMs > 0) {
    const back = Math.floor((now - s.lastEjectionEnd) / od.intervalMs);
    s.timesEjected = Math.max(0, s.timesEjected - back);
  }
  s.timesEjected++;
  const cap = Math.max(POOL_LIMITS.maxEjectionMs, od.baseEjectionMs);
  s.ejectedUntil = now + Math.min(od.baseEjectionMs * s.timesEjected, cap);
  s.lastEjectionEnd = s.ejectedUntil;
  s.consecutive5xx = 0;
  s.consecutiveGateway = 0;
  pool.ejections++;
}
