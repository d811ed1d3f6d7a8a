// The access log as an operator reads it: one JSON line per connection and per
// HTTP request, with Envoy's field names, on stdout or in a file (`weft agent
// --access-log stdout|FILE`; off by default). Written through a buffered
// asynchronous stream; bounded twice: at most ACCESS_LOG_LINES_PER_S lines a
// second (the rest are counted, and said in one line when the second ends), and
// at most ACCESS_LOG_BUFFER bytes waiting for the disk (the rest are dropped).
import pino from 'pino';
import { clip } from './bounded-log.ts';
import type { ByteCounts, Connection, ConnectionObserver } from './connection.ts';
import type { RequestRecord, RequestSink } from './request-record.ts';

export const ACCESS_LOG_LINES_PER_S = 1000;
export const ACCESS_LOG_BUFFER = 1024 * 1024;

export interface LineOut {
  write(line: string): unknown;
  end?(): void;
}

/** stdout, or a file appended to. */
export function accessLogDestination(where: string): LineOut {
  const d = pino.destination({
    dest: where === 'stdout' ? 1 : where,
    // Asynchronous: lines that come while a write is in flight leave together with the next.
    sync: false,
    maxLength: ACCESS_LOG_BUFFER,
    mkdir: where !== 'stdout',
  });
  return {
    write: (s) => d.write(s),
    end: () => {
      try {
        d.flushSync();
      } catch {
        // Not yet open, or closed: nothing to flush.
      }
      d.end();
    },
  };
}

export interface AccessLogWriterOptions {
  /** Keep request paths' query strings (they may carry credentials): off unless asked. */
  queryStrings?: boolean;
  linesPerSecond?: number;
  /** The clock, in ms (tests). */
  now?: () => number;
}

const traceId = (tp: string | undefined) => (tp && tp.length >= 35 ? tp.slice(3, 35) : undefined);

export class AccessLogWriter implements ConnectionObserver, RequestSink {
  private readonly out: LineOut;
  private readonly opts: AccessLogWriterOptions;
  private readonly limit: number;
  private window = 0;
  private count = 0;
  /** Lines left out over the limit since the last report. */
  dropped = 0;

  constructor(out: LineOut, opts: AccessLogWriterOptions = {}) {
    this.out = out;
    this.opts = opts;
    this.limit = opts.linesPerSecond ?? ACCESS_LOG_LINES_PER_S;
  }

  opened(): void {}

  closed(c: Connection, counts: ByteCounts): void {
    // The L7 path's connections are written request by request.
    if (!c.logEnd) return;
    const now = this.now();
    if (!this.admit(now)) return;
    this.line({
      start_time: new Date(c.start).toISOString(),
      duration: now - c.start,
      protocol: 'TCP',
      reporter: c.direction === 'outbound' ? 'source' : 'destination',
      via: c.via,
      response_flags: c.flag || '-',
      bytes_received: counts.fromClient,
      bytes_sent: counts.toClient,
      downstream_remote_address: c.sourceAddress,
      upstream_host: clip(c.destination),
      source_workload: c.sourceWorkload,
      source_principal: c.source,
      destination_workload: c.destinationWorkload,
      destination_principal: c.destinationPrincipal,
      destination_service: c.service,
      connection_security_policy:
        c.source !== null && c.via !== 'plaintext' ? 'mutual_tls' : 'none',
      ...(c.detail ? { detail: clip(c.detail) } : {}),
      ...(c.revokedBy ? { detail: c.revokedBy } : {}),
      ...(c.audit ? { audit: c.audit } : {}),
    });
  }

  request(r: RequestRecord): void {
    if (!this.admit(this.now())) return;
    this.line({
      start_time: new Date(r.start).toISOString(),
      duration: Math.round(r.durationMs),
      protocol: r.protocol === 'http' ? 'HTTP/1.1' : r.protocol === 'grpc' ? 'gRPC' : 'HTTP/2',
      reporter: r.reporter,
      method: r.method,
      authority: clip(r.authority),
      path: clip(this.path(r.path)),
      response_code: r.status,
      ...(r.grpcStatus !== undefined ? { grpc_status: r.grpcStatus } : {}),
      response_flags: r.responseFlags || '-',
      bytes_received: r.requestBytes,
      bytes_sent: r.responseBytes,
      source_workload: r.sourcePod ?? null,
      source_principal: r.sourcePrincipal ?? null,
      destination_workload: r.destinationPod ?? null,
      destination_principal: r.destinationPrincipal ?? null,
      destination_service: r.destinationService ?? null,
      ...(r.route ? { route_name: r.route } : {}),
      connection_security_policy: r.mtls ? 'mutual_tls' : 'none',
      ...(traceId(r.traceparent) ? { trace_id: traceId(r.traceparent) } : {}),
    });
  }

  close(): void {
    this.out.end?.();
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  private path(p: string): string {
    if (this.opts.queryStrings) return p;
    const q = p.indexOf('?');
    return q < 0 ? p : `${p.slice(0, q)}?…`;
  }

  /** One line more this second? The first line of a new second says what the last left out. */
  private admit(now: number): boolean {
    const second = Math.floor(now / 1000);
    if (second !== this.window) {
      this.window = second;
      this.count = 0;
      if (this.dropped > 0) {
        this.line({ start_time: new Date(now).toISOString(), dropped_lines: this.dropped });
        this.dropped = 0;
      }
    }
    if (this.count >= this.limit) {
      this.dropped++;
      return false;
    }
    this.count++;
    return true;
  }

  private line(o: object): void {
    this.out.write(`${JSON.stringify(o)}\n`);
  }
}
