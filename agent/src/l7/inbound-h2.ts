// HTTP/2 (and gRPC) arriving at a destination port whose AuthorizationPolicy has
// HTTP rules: each stream is authorized on its own (403, or PERMISSION_DENIED
// for gRPC, on denial, the session kept) and allowed streams go to the app as
// streams of a pooled HTTP/2 session from the inbound source address. The
// HTTP/1.1 side of the same check is proxy/http.ts.
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { AuthzRequest, Endpoint } from '../state/index.ts';
import type { RequestSink, RequestTracing } from '../telemetry/index.ts';
import { ClientSessions } from './client-sessions.ts';
import { Exchange } from './exchange.ts';
import { isGrpc } from './grpc-status.ts';
import { splitTarget } from './headers.ts';
import { answerer, relay, strip } from './http2.ts';
import { Upstreams } from './upstream.ts';

export interface InboundHttp2Target {
  /** `namespace/name` of the destination workload. */
  readonly workloadKey: string;
  readonly mtls: boolean;
  readonly reporter: 'destination';
  /** The source workload and the identity it proved, when known. */
  readonly peerWorkload?: string | null;
  readonly peer?: string | null;
  /** The app's address and port: the upstream pool's key. */
  readonly app: Endpoint;
  /** The request target normalized as the authorization check reads it, or undefined (400). */
  normalize(target: string): string | undefined;
  /** Whether the request may reach the app (logging a denial is the caller's). */
  authorize(req: AuthzRequest): boolean;
  /** A new connection to the app. */
  dial(): Duplex;
  readonly sink: RequestSink;
  /** A server-side span per stream, when tracing is on. */
  readonly tracing?: RequestTracing | null;
}

export class InboundHttp2 {
  private readonly upstreams = new Upstreams();
  private readonly sessions = new ClientSessions<InboundHttp2Target>((t, stream, headers, flags) =>
    this.stream(t, stream, headers, flags),
  );

  /** Serves a connection whose first bytes (unshifted back) are the HTTP/2 preface. */
  serve(conn: Duplex, t: InboundHttp2Target): void {
    this.sessions.serve(conn, t);
  }

  private stream(
    t: InboundHttp2Target,
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    flags: number,
  ): void {
    const method = (headers[':method'] as string | undefined) ?? 'GET';
    const url = (headers[':path'] as string | undefined) ?? '/';
    const authority = (headers[':authority'] as string | undefined) ?? headers.host ?? '';
    const grpc = isGrpc(headers['content-type']);
    const ex = new Exchange(
      t.sink,
      t,
      grpc ? 'grpc' : 'http2',
      method,
      splitTarget(url).path,
      authority,
    );
    ex.trace(t.tracing, headers.traceparent);
    stream.on('error', () => {});
    const a = answerer(stream, grpc, ex);
    const target = t.normalize(url);
    if (target === undefined) return a.answer(400, 'bad_request');
    const out = strip(headers);
    if (ex.traceparent) out.traceparent = ex.traceparent;
    const joined: Record<string, string> = {};
    for (const k in out) {
      const v = out[k];
      if (v !== undefined) joined[k] = Array.isArray(v) ? v.join(',') : String(v);
    }
    if (!t.authorize({ method, path: target, host: authority, headers: joined }))
      return a.answer(403, 'policy');
    out[':method'] = method;
    out[':path'] = url;
    out[':authority'] = authority;
    out[':scheme'] = (headers[':scheme'] as string | undefined) ?? 'http';
    let pool: ReturnType<Upstreams['http2']>;
    try {
      pool = this.upstreams.http2({ workloadKey: t.workloadKey, dial: () => t.dial() }, t.app);
    } catch {
      return a.answer(503, 'upstream_reset');
    }
    if (!pool) return a.answer(503, 'overflow');
    relay(stream, flags, pool, out, ex, a, 0, () => {});
  }

  /** Another agent took over: each session gets GOAWAY; its streams in flight carry on. */
  drain(): void {
    this.sessions.drain();
  }

  close(): void {
    this.upstreams.close();
  }
}
