// Circuit breaking: whether a Service port takes one more request from this node, by its
// DestinationRule's connectionPool. In flight at once: at most http2MaxRequests (Istio
// applies it to HTTP/1.1 too); to an HTTP/1.1 upstream also at most maxConnections plus
// http1MaxPendingRequests, the connections carrying one request each and the rest waiting
// for one (upstream.ts holds each (client workload, endpoint) to maxConnections
// connections). Istio's 0 means unset, here too. Beyond: 503 at once, flag `overflow`, never a queue without bound.
import type { PortPool } from './endpoint-pools.ts';

export function admit(pool: PortPool, h2: boolean): boolean {
  const p = pool.policy;
  if (!p) return true;
  if (p.http2MaxRequests && pool.inFlight >= p.http2MaxRequests) return over(pool);
  // Without http1MaxPendingRequests the wait is bounded per endpoint (L7_LIMITS.queuedPerEndpoint).
  if (
    !h2 &&
    p.maxConnections &&
    p.http1MaxPendingRequests &&
    pool.inFlight >= p.maxConnections + p.http1MaxPendingRequests
  )
    return over(pool);
  return true;
}

function over(pool: PortPool): false {
  pool.overflows++;
  return false;
}
