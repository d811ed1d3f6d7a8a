// One request as telemetry sees it: filled in as the request goes, handed to
// the RequestSink once when it ends (telemetry/request-record.ts).
import type { Endpoint } from '../state/index.ts';
import {
  noRequestSink,
  type RequestRecord,
  type RequestSink,
  type RequestSpan,
  type RequestTracing,
} from '../telemetry/index.ts';
import type { Decision } from './decide.ts';
import type { EndpointState, PortPool } from './endpoint-pools.ts';
import { finished, latencyFor, outcomeOf, started } from './outlier.ts';

/** Whose proxy reports: the client's (source) or the server's (destination) workload. */
export interface Party {
  readonly workloadKey: string;
  readonly mtls: boolean;
  /** Absent: the source's proxy. */
  readonly reporter?: 'source' | 'destination';
  /** Source side: this workload's SPIFFE ID, when it has one. */
  readonly principal?: string | null;
  /** Source side: the SPIFFE ID an endpoint proves, undefined when reached in plaintext. */
  peerPrincipal?(ep: Endpoint): string | undefined;
  /** Destination side: the peer workload (`namespace/name`) and the identity it proved. */
  readonly peerWorkload?: string | null;
  readonly peer?: string | null;
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

export class Exchange {
  status = 0;
  grpcStatus: number | undefined;
  flag = '';
  /** The route and rule that took the request; named as text only for a record. */
  routeRule: { readonly route: string; readonly rule: number } | undefined;
  service: string | undefined;
  pod: string | undefined;
  /** The server's identity, when the chosen endpoint was reached over mutual TLS. */
  peerPrincipal: string | undefined;
  /** This proxy's span, and the traceparent forwarded upstream (its own, or the app's when untraced). */
  private span: RequestSpan | undefined;
  traceparent: string | undefined;
  requestBytes = 0;
  responseBytes = 0;
  private reported = false;
  /** The balancer's state of the endpoint picked: told how the request went, once. */
  private pool: PortPool | undefined;
  private ep: EndpointState | undefined;
  readonly start = Date.now();
  private readonly t0 = performance.now();

  private readonly sink: RequestSink;
  private readonly src: Party;
  readonly protocol: RequestRecord['protocol'];
  readonly method: string;
  readonly path: string;
  readonly authority: string;

  constructor(
    sink: RequestSink,
    src: Party,
    protocol: RequestRecord['protocol'],
    method: string,
    path: string,
    authority: string,
  ) {
    this.sink = sink;
    this.src = src;
    this.protocol = protocol;
    this.method = method;
    this.path = path;
    this.authority = authority;
  }

  routed(d: Decision): void {
    if (d.rule) this.routeRule = d.rule;
    this.service = d.service;
    this.pod = d.ep?.pod;
    if (d.pool && d.ep) {
      this.pool = d.pool;
      this.ep = started(d.pool, d.ep);
    }
    if (d.ep && this.src.peerPrincipal) this.peerPrincipal = this.src.peerPrincipal(d.ep);
  }

  /**
   * A retry went to another endpoint: the failed attempt (`status`, 0 when no answer came)
   * counts against its endpoint in the balancer, and the request is reported against the
   * one that answers.
   */
  endpoint(ep: Endpoint, status: number): void {
    this.pod = ep.pod;
    if (this.src.peerPrincipal) this.peerPrincipal = this.src.peerPrincipal(ep);
    if (this.ep && this.pool) {
      const pool = this.pool;
      finished(
        pool,
        this.ep,
        outcomeOf(status, status === 0 ? 'upstream_reset' : ''),
        latencyFor(performance.now() - this.t0, status === 0 ? 'upstream_reset' : ''),
        pool.now(),
      );
      this.ep = started(pool, ep);
    }
  }

  /** Starts this proxy's span (when tracing is on), a child of the request's traceparent. */
  trace(tracing: RequestTracing | null | undefined, incoming: string | string[] | undefined): void {
    const tp = typeof incoming === 'string' ? incoming : undefined;
    if (tracing) {
      this.span = tracing.start(this.src.reporter ?? 'source', tp, this.start);
      this.traceparent = this.span.traceparent;
    } else this.traceparent = tp;
  }

  /** Reports the request once (the first call wins: an answer, then a close, report one record). */
  done(status: number, flag: string): void {
    if (this.reported) return;
    this.reported = true;
    if (this.status === 0) this.status = status;
    if (this.flag === '') this.flag = flag;
    const durationMs = performance.now() - this.t0;
    // The balancer learns how it went, whether or not anything else listens.
    if (this.ep)
      finished(
        this.pool!,
        this.ep,
        outcomeOf(this.status, this.flag),
        latencyFor(durationMs, this.flag),
        this.pool!.now(),
      );
    // Nothing listens: no record is built.
    if (this.sink === noRequestSink && !this.span) return;
    const p = this.src;
    const dst = p.reporter === 'destination';
    // The source side knows the server's identity per endpoint: mutual TLS only when both proved one.
    const mtls =
      dst || !p.peerPrincipal ? p.mtls : !!p.principal && this.peerPrincipal !== undefined;
    // Filled field by field (in the order the record has always listed them): spreading
    // conditional objects costs an object per optional field, per request.
    const r: Writable<RequestRecord> = { reporter: dst ? 'destination' : 'source' } as never;
    if (dst) r.destinationPod = p.workloadKey;
    else r.sourcePod = p.workloadKey;
    if (dst && p.peerWorkload) r.sourcePod = p.peerWorkload;
    if (dst && p.peer) r.sourcePrincipal = p.peer;
    if (!dst && p.principal && mtls) r.sourcePrincipal = p.principal;
    if (this.pod) r.destinationPod = this.pod;
    if (this.peerPrincipal && mtls) r.destinationPrincipal = this.peerPrincipal;
    if (this.service) r.destinationService = this.service;
    const rr = this.routeRule;
    if (rr) r.route = `${rr.route} rule ${rr.rule}`;
    r.protocol = this.protocol;
    r.method = this.method;
    r.path = this.path;
    r.authority = this.authority;
    r.status = this.status;
    if (this.grpcStatus !== undefined) r.grpcStatus = this.grpcStatus;
    r.responseFlags = this.flag;
    r.mtls = mtls;
    r.start = this.start;
    r.durationMs = durationMs;
    r.requestBytes = this.requestBytes;
    r.responseBytes = this.responseBytes;
    if (this.traceparent) r.traceparent = this.traceparent;
    this.sink.request(r);
    this.span?.end(r);
  }
}

/** The tighter of a rule's request and backendRequest timeouts (ms), or 0 for none. */
export function timeoutOf(d: Decision): number {
  const t = d.rule?.timeouts;
  if (!t) return 0;
  const a = t.request ?? 0;
  const b = t.backendRequest ?? 0;
  return a && b ? Math.min(a, b) : a || b;
}
