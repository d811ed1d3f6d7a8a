// What the destination side (inbound.ts) needs from the proxy about one client
// connection to an enrolled workload's port read as HTTP: whose it is, how to
// decide a request (lookups in the workload's decision table, proxy/decide.ts),
// the rate limit in force, and how to reach the app.
import type { Duplex } from 'node:stream';
import type { AuthzRequest, Endpoint } from '../state/index.ts';
import type { RateLimitTable } from '../tables/index.ts';
import type { RequestSink, RequestTracing } from '../telemetry/index.ts';
import type { Dialer } from './upstream.ts';

/** A request's verdict as the destination side reads it. */
export interface Admission {
  readonly allow: boolean;
  /** AUDIT rules that matched (`ns/name rule N`). */
  readonly audited?: readonly string[];
}

export interface InboundTarget {
  /** `namespace/name` of the destination workload: the app pool's key. */
  readonly workloadKey: string;
  readonly mtls: boolean;
  readonly reporter: 'destination';
  /** The source workload and the SPIFFE ID it proved, when known. */
  readonly peerWorkload?: string | null;
  readonly peer?: string | null;
  /** The destination workload's own SPIFFE ID, and the Service the client asked for, when known. */
  readonly self?: string | null;
  readonly service?: string | null;
  /** The app's address and port. */
  readonly app: Endpoint;
  /** The request target normalized as the authorization check reads it, or undefined (400). */
  normalize(target: string): string | undefined;
  /** AuthorizationPolicy for one request; a denial is logged by the callee. */
  authorize(req: AuthzRequest): Admission;
  /** An allowed request was answered (the access log's line). */
  served(method: string, path: string, a: Admission): void;
  /** The HTTPLocalRateLimitPolicy on this port, if any. */
  readonly rateLimit: RateLimitTable | null;
  /** How to reach the app; its `workloadKey` keys the app's pools (one per pod instance). */
  readonly upstream: Dialer;
  /** Marks a socket to be reset (true) or closed cleanly (false) if the agent exits. */
  busy?(s: Duplex, on: boolean): void;
  readonly sink: RequestSink;
  readonly tracing?: RequestTracing | null;
}
