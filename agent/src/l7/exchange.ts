// One request as telemetry sees it: filled in as the request goes, handed to
// the RequestSink once when it ends (telemetry/request-record.ts).
import type { RequestRecord, RequestSink } from '../telemetry/index.ts';
import type { Decision } from './decide.ts';

/** Whose proxy reports: the client's (source) or the server's (destination) workload. */
export interface Party {
  readonly workloadKey: string;
  readonly mtls: boolean;
  /** Absent: the source's proxy. */
  readonly reporter?: 'source' | 'destination';
}

export class Exchange {
  status = 0;
  grpcStatus: number | undefined;
  flag = '';
  route: string | undefined;
  service: string | undefined;
  pod: string | undefined;
  requestBytes = 0;
  responseBytes = 0;
  private reported = false;
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
    if (d.rule) this.route = `${d.rule.route} rule ${d.rule.rule}`;
    this.service = d.service;
    this.pod = d.ep?.pod;
  }

  /** Reports the request once (the first call wins: an answer, then a close, report one record). */
  done(status: number, flag: string): void {
    if (this.reported) return;
    this.reported = true;
    if (this.status === 0) this.status = status;
    if (this.flag === '') this.flag = flag;
    const dst = this.src.reporter === 'destination';
    this.sink.request({
      reporter: dst ? 'destination' : 'source',
      ...(dst ? { destinationPod: this.src.workloadKey } : { sourcePod: this.src.workloadKey }),
      ...(this.pod ? { destinationPod: this.pod } : {}),
      ...(this.service ? { destinationService: this.service } : {}),
      ...(this.route ? { route: this.route } : {}),
      protocol: this.protocol,
      method: this.method,
      path: this.path,
      authority: this.authority,
      status: this.status,
      ...(this.grpcStatus !== undefined ? { grpcStatus: this.grpcStatus } : {}),
      responseFlags: this.flag,
      mtls: this.src.mtls,
      start: this.start,
      durationMs: performance.now() - this.t0,
      requestBytes: this.requestBytes,
      responseBytes: this.responseBytes,
    });
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
