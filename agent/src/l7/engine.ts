// The L7 engine: one per node proxy. A client connection to a VIP port with
// routes (or read as HTTP) comes here from the proxy; its protocol is read from
// its first bytes (the HTTP/2 preface, else HTTP/1.1) and each request is
// routed (decide.ts), balanced (balancer.ts) and sent over pooled upstream
// connections (upstream.ts). Node's own parsers read both protocols: an HTTP
// server and an HTTP/2 server that never listen, fed connections by hand.
// docs/l7-engine.md.
import { type IncomingMessage, request } from 'node:http';
import type { Duplex } from 'node:stream';
import type { CompiledRule } from '../tables/index.ts';
import {
  noRequestSink,
  type RequestSink,
  type RequestTracing,
  type RetryStatus,
} from '../telemetry/index.ts';
import { pick } from './balancer.ts';
import { byPreface, ClientHttp1 } from './client-http1.ts';
import { ClientSessions } from './client-sessions.ts';
import { serviceByName } from './decide.ts';
import { Pools } from './endpoint-pools.ts';
import type { Headers } from './filters.ts';
import { handleHttp1, upgradeHttp1 } from './http1.ts';
import { handleHttp2 } from './http2.ts';
import { L7_LIMITS } from './limits.ts';
import type { EngineParts } from './parts.ts';
import { newRetryCounts } from './retry.ts';
import { RetryBudgets } from './retry-budget.ts';
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
  /** [0, 1) for backoff jitter and fault draws; Math.random by default. */
  rand?: () => number;
  /** Balancer state (tests give a clock and a random source); default: a new one. */
  pools?: Pools;
}

export class L7Engine implements EngineParts {
  readonly pools: Pools;
  readonly spread = new Spread();
  readonly upstreams = new Upstreams();
  readonly sink: RequestSink;
  readonly tracing: RequestTracing | null;
  readonly budgets = new RetryBudgets();
  readonly retryCounts = newRetryCounts();
  readonly rand: () => number;
  private readonly h1: ClientHttp1<L7Source>;
  private readonly h2: ClientSessions<L7Source>;
  private mirrors = 0;
  /** Requests whose handling threw (a bug): each cost its connection (HTTP/2: its stream) only. */
  errors = 0;

  constructor(opts: L7EngineOptions = {}) {
    this.sink = opts.sink ?? noRequestSink;
    this.tracing = opts.tracing ?? null;
    this.pools = opts.pools ?? new Pools();
    this.rand = opts.rand ?? Math.random;
    this.h1 = new ClientHttp1<L7Source>({
      onRequest: (src, req, res) => handleHttp1(this, src, req, res),
      onUpgrade: (src, req, socket, head) => upgradeHttp1(this, src, req, socket, head),
      onFault: () => {
        this.errors++;
      },
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
      if (this.h1.pending(conn) === 0) conn.destroy();
    });
    byPreface(
      conn,
      () => {
        // HTTP/2 reads the socket itself (and what was unshifted); no idle timer of ours on it.
        c.setTimeout?.(0);
        this.h2.serve(conn, src);
      },
      () => this.h1.serve(conn, src),
    );
  }

  /** What retrying came to, and the budgets spent in their window (at most `max` listed). */
  retryStatus(now = Date.now(), max = 100): RetryStatus {
    const budgets: RetryStatus['budgets'] = [];
    for (const [client, service, b] of this.budgets.entries()) {
      if (budgets.length >= max) break;
      const used = b.used(now);
      if (used === 0 && b.outstanding === 0) continue;
      budgets.push({
        client,
        service,
        used,
        allowed: b.allowed(now),
        outstanding: b.outstanding,
        exhausted: b.exhausted,
      });
    }
    return { counts: { ...this.retryCounts }, budgets };
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
    this.h1.drain();
    this.h2.drain();
  }

  close(): void {
    this.upstreams.close();
  }
}
