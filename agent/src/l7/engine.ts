// The L7 engine: one per node proxy. A client connection to a VIP port with
// routes (or read as HTTP) comes here from the proxy; its protocol is read from
// its first bytes (the HTTP/2 preface, else HTTP/1.1) and each request is
// routed (decide.ts), balanced (balancer.ts) and sent over pooled upstream
// connections (upstream.ts). Node's own parsers read both protocols: an HTTP
// server and an HTTP/2 server that never listen, fed connections by hand.
// docs/l7-engine.md.
import { createServer as createHttp1, type IncomingMessage, request, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { CompiledRule } from '../tables/index.ts';
import { noRequestSink, type RequestSink, type RequestTracing } from '../telemetry/index.ts';
import { pick } from './balancer.ts';
import { ClientSessions } from './client-sessions.ts';
import { serviceByName } from './decide.ts';
import { Pools } from './endpoint-pools.ts';
import type { Headers } from './filters.ts';
import { handleHttp1, upgradeHttp1 } from './http1.ts';
import { handleHttp2 } from './http2.ts';
import { L7_LIMITS } from './limits.ts';
import type { EngineParts } from './parts.ts';
import type { L7Source, L7View } from './source.ts';
import { Spread } from './spread.ts';
import { Upstreams } from './upstream.ts';

/** A mirrored request that takes longer than this is dropped. */
const MIRROR_MS = 10_000;
/** A mirrored request's body beyond this much unsent is not mirrored further. */
const MIRROR_BUFFER = 1024 * 1024;

export interface L7EngineOptions {
  sink?: RequestSink;
  /** Spans for the requests this engine sends (telemetry/tracing.ts); absent: off. */
  tracing?: RequestTracing | null;
  /** Balancer state (tests give a clock and a random source); default: a new one. */
  pools?: Pools;
}

// The HTTP/2 connection preface starts `PRI * HTTP/2.0`; no HTTP/1.1 method is PRI.
export const isPreface = (b: Buffer) =>
  b.length >= 3 && b[0] === 0x50 && b[1] === 0x52 && b[2] === 0x49;

export class L7Engine implements EngineParts {
  readonly pools: Pools;
  readonly spread = new Spread();
  readonly upstreams = new Upstreams();
  readonly sink: RequestSink;
  readonly tracing: RequestTracing | null;
  private readonly sources = new WeakMap<object, L7Source>();
  private readonly inFlight = new WeakMap<object, number>();
  private readonly h1: Server;
  private readonly h2: ClientSessions<L7Source>;
  private mirrors = 0;
  /** Another agent took over: every client connection is asked to move at a request boundary. */
  private draining = false;
  /** Requests whose handling threw (a bug): each cost its connection (HTTP/2: its stream) only. */
  errors = 0;

  constructor(opts: L7EngineOptions = {}) {
    this.sink = opts.sink ?? noRequestSink;
    this.tracing = opts.tracing ?? null;
    this.pools = opts.pools ?? new Pools();
    this.h1 = createHttp1({ maxHeaderSize: L7_LIMITS.maxHeaderBytes, noDelay: true });
    this.h1.on('request', (req, res) => {
      const conn = req.socket;
      const src = this.sources.get(conn);
      if (!src) return void res.destroy();
      this.admit(conn);
      if (this.draining) res.shouldKeepAlive = false;
      res.once('close', () => this.release(conn));
      // A bug in one request's handling costs its connection, never the agent.
      try {
        handleHttp1(this, src, req, res);
      } catch {
        this.errors++;
        conn.destroy();
      }
    });
    this.h1.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const src = this.sources.get(socket);
      if (!src) return void socket.destroy();
      try {
        upgradeHttp1(this, src, req, socket, head);
      } catch {
        this.errors++;
        socket.destroy();
      }
    });
    this.h1.on('clientError', (_e, socket: Duplex) => {
      // A message Node's parser refused: 400 (431 for headers too large), then the connection goes.
      const code = (_e as NodeJS.ErrnoException).code;
      const status = code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
      if ((socket as { writable?: boolean }).writable)
        socket.end(
          `HTTP/1.1 ${status} Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`,
        );
      else socket.destroy();
    });
    this.h2 = new ClientSessions<L7Source>(
      (src, stream, headers, flags) => handleHttp2(this, src, stream, headers, flags),
      () => {
        this.errors++;
      },
    );
  }

  /** Serves one client connection, already past the proxy's L4 checks. */
  serve(conn: Duplex, src: L7Source): void {
    conn.on('error', () => {});
    conn.once('close', () => src.closed());
    const c = conn as Duplex & { setTimeout?: (ms: number) => void };
    c.setTimeout?.(L7_LIMITS.clientIdleMs);
    conn.on('timeout', () => {
      if ((this.inFlight.get(conn) ?? 0) === 0) conn.destroy();
    });
    conn.once('data', (first: Buffer) => {
      conn.pause();
      conn.unshift(first);
      if (isPreface(first)) {
        // HTTP/2 reads the socket itself (and what was unshifted); no idle timer of ours on it.
        c.setTimeout?.(0);
        this.h2.serve(conn, src);
        return;
      }
      this.sources.set(conn, src);
      this.h1.emit('connection', conn);
      conn.resume();
    });
  }

  /** One more request in flight on a client connection; reading pauses at L7_LIMITS.pipelined. */
  private admit(conn: Duplex): void {
    const n = (this.inFlight.get(conn) ?? 0) + 1;
    this.inFlight.set(conn, n);
    if (n >= L7_LIMITS.pipelined) conn.pause();
  }

  private release(conn: Duplex): void {
    const n = (this.inFlight.get(conn) ?? 1) - 1;
    this.inFlight.set(conn, n);
    if (n === L7_LIMITS.pipelined - 1) conn.resume();
  }

  /** Sends copies of a request to the rule's RequestMirror backends; their answers are dropped. */
  mirror(
    src: L7Source,
    view: L7View,
    rule: CompiledRule,
    method: string,
    target: string,
    headers: Headers,
    body: IncomingMessage | undefined,
  ): void {
    for (let i = 0; i < rule.filters.length; i++) {
      const f = rule.filters[i]!;
      if (f.type !== 'RequestMirror') continue;
      if (this.mirrors >= L7_LIMITS.mirrorsInFlight || !this.spread.take(f, f.percent)) continue;
      const b = f.backend;
      const name = `${b.namespace}/${b.name}`;
      const port = b.port ?? src.port;
      const t = serviceByName(view, name, port);
      if (!t) continue;
      const key = `${name}:${port}`;
      const lb = this.pools.get(key, view.routes.trafficPolicies?.get(key));
      const ep = pick(lb, src.allowed(view, key, t).endpoints, lb.now(), this.pools.random);
      const pool = ep ? this.upstreams.http1(src, ep, lb.policy) : undefined;
      if (!pool) continue;
      this.mirrors++;
      const r = request({
        method,
        path: target,
        headers: headers as never,
        agent: pool.agent,
        setHost: false,
      });
      r.on('error', () => {});
      r.on('response', (ur) => ur.resume());
      r.setTimeout(MIRROR_MS, () => r.destroy());
      r.once('close', () => {
        this.mirrors--;
      });
      const bodyless =
        headers['transfer-encoding'] === undefined &&
        (headers['content-length'] === undefined || headers['content-length'] === '0');
      if (!body || bodyless || body.complete) {
        r.end();
        continue;
      }
      body.on('data', (c: Buffer) => {
        if (r.destroyed) return;
        if (r.writableLength > MIRROR_BUFFER) r.destroy();
        else r.write(c);
      });
      body.once('end', () => r.end());
      body.once('close', () => {
        if (!body.complete) r.destroy();
      });
    }
  }

  /**
   * Another agent serves new connections now. HTTP/1.1 responses from here on say
   * `Connection: close`; each HTTP/2 session gets GOAWAY (its last stream id): its
   * streams in flight carry on, the client opens new ones on a new connection.
   */
  drain(): void {
    this.draining = true;
    this.h2.drain();
  }

  close(): void {
    this.upstreams.close();
  }
}
