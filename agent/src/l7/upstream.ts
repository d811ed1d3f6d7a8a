// Pooled upstream connections, per (source workload, endpoint): an HTTP/1.1
// keep-alive agent, or one HTTP/2 session carrying many streams. Each upstream
// connection is whatever the source's dial gives (an HBONE CONNECT stream, a
// same-node hand-off, a plaintext socket) and is reused for many requests.
// Bounds: L7_LIMITS (connections, idle, queue, pools).
import { Agent } from 'node:http';
import { type ClientHttp2Session, connect } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { Endpoint } from '../state/index.ts';
import type { CompiledTrafficPolicy } from '../tables/index.ts';
import { connectTimeout } from './connect-timeout.ts';
import { L7_LIMITS } from './limits.ts';

/** Whose upstream connections a pool holds, and how one is made. */
export interface Dialer {
  readonly workloadKey: string;
  dial(ep: Endpoint): Duplex;
  /** A pooled connection went idle in the pool (the inbound side: a close now ends it cleanly). */
  idle?(s: Duplex): void;
  /** A connection was dialed or taken from the pool for a request (the inbound side arms it). */
  busy?(s: Duplex): void;
}

type Sock = Duplex & {
  setKeepAlive?: unknown;
  setNoDelay?: unknown;
  ref?: unknown;
  unref?: unknown;
  setTimeout?: unknown;
};

function noop(this: unknown) {
  return this;
}

/** http.Agent and http2 call socket methods a Duplex (an HBONE stream, a pipe) may lack. */
export function socketLike(d: Duplex): Duplex {
  const s = d as Sock;
  if (typeof s.setKeepAlive !== 'function') s.setKeepAlive = noop;
  if (typeof s.setNoDelay !== 'function') s.setNoDelay = noop;
  if (typeof s.ref !== 'function') s.ref = noop;
  if (typeof s.unref !== 'function') s.unref = noop;
  if (typeof s.setTimeout !== 'function') s.setTimeout = noop;
  return d;
}

interface H1Pool {
  agent: Agent;
  /** Requests handed to the agent and not yet given a connection. */
  queued: number;
  /** How long a pooled connection may sit idle (ms): DestinationRule idleTimeout, or the default. */
  idleMs: number;
  /** The DestinationRule's connectionPool in force for it (read at each use). */
  policy: CompiledTrafficPolicy | undefined;
}

interface H2Pool {
  session: ClientHttp2Session;
  /** Streams open or waiting on it. */
  streams: number;
  /** Streams opened on it in all (maxRequestsPerConnection). */
  opened: number;
}

/** Requests a kept-alive HTTP/1.1 connection has carried (maxRequestsPerConnection). */
const carried = new WeakMap<object, number>();

export class Upstreams {
  private readonly h1 = new Map<string, H1Pool>();
  private readonly h2 = new Map<string, H2Pool>();

  /**
   * The HTTP/1.1 pool for the source's requests to `ep`; undefined when its queue is full
   * (503). `policy` (the Service port's DestinationRule) caps its connections
   * (maxConnections), their requests (maxRequestsPerConnection), their idle time
   * (idleTimeout) and a dial's wait (connectTimeout).
   */
  http1(src: Dialer, ep: Endpoint, policy?: CompiledTrafficPolicy): H1Pool | undefined {
    const key = `${src.workloadKey}|${ep.ip}|${ep.port}`;
    let p = this.h1.get(key);
    if (!p) {
      this.trim();
      const agent = new Agent({
        keepAlive: true,
        maxSockets: L7_LIMITS.connectionsPerEndpoint,
        maxFreeSockets: L7_LIMITS.idlePerEndpoint,
      });
      // No policy yet: the one asked for is applied below, as to a pool that had another.
      const pool: H1Pool = {
        agent,
        queued: 0,
        idleMs: L7_LIMITS.upstreamIdleMs,
        policy: undefined,
      };
      const busy = src.busy;
      // Async form: a refused dial becomes the request's error, not a throw.
      agent.createConnection = ((_o: unknown, cb: (e: Error | null, s?: Duplex) => void) => {
        let s: Duplex;
        try {
          s = socketLike(src.dial(ep));
        } catch (e) {
          cb(e as Error);
          return undefined;
        }
        const ms = pool.policy?.connectTimeoutMs;
        if (ms) connectTimeout(s, ms);
        busy?.(s);
        cb(null, s);
        return undefined;
      }) as never;
      // Told from the agent's own hooks, not a listener per request: a connection handed
      // straight to a queued request stays busy (the agent's 'free' handler, which runs
      // first, gave it one; a pooled one has no request left).
      const idle = src.idle;
      if (idle)
        agent.on('free', (s: Duplex & { _httpMessage?: unknown }) => {
          if (s._httpMessage === null && !s.destroyed) idle(s);
        });
      if (busy) {
        const reuse = agent.reuseSocket.bind(agent);
        agent.reuseSocket = (s, req) => {
          busy(s);
          reuse(s, req);
        };
      }
      // The idle timer is the agent's `timeout` option, set only while the agent keeps a
      // connection (it arms the timer then, shortened by the server's Keep-Alive hint). With
      // the option set all along, Node would also clear the timer at each response's end and
      // arm it again when pooled: two timer moves and a listener per request. Armed once, it
      // runs on through later requests as before (activity pushes it back; the agent closes
      // a connection on it only while pooled).
      const options = (agent as unknown as { options: { timeout?: number } }).options;
      const keep = agent.keepSocketAlive.bind(agent);
      agent.keepSocketAlive = (socket) => {
        const max = pool.policy?.maxRequestsPerConnection;
        if (max) {
          const n = (carried.get(socket) ?? 0) + 1;
          carried.set(socket, n);
          if (n >= max) return false;
        }
        options.timeout = pool.idleMs;
        try {
          return keep(socket);
        } finally {
          options.timeout = undefined;
        }
      };
      p = pool;
      this.h1.set(key, p);
    }
    if (p.policy !== policy) {
      p.policy = policy;
      p.agent.maxSockets = Math.min(
        policy?.maxConnections || L7_LIMITS.connectionsPerEndpoint,
        L7_LIMITS.connectionsPerEndpoint,
      );
      p.idleMs = policy?.idleTimeoutMs ?? L7_LIMITS.upstreamIdleMs;
    }
    if (p.queued >= L7_LIMITS.queuedPerEndpoint) return undefined;
    return p;
  }

  /**
   * The HTTP/2 session for the source's streams to `ep`; undefined when refused or full.
   * A session that carried `policy.maxRequestsPerConnection` streams closes once they end.
   */
  http2(src: Dialer, ep: Endpoint, policy?: CompiledTrafficPolicy): H2Pool | undefined {
    const key = `${src.workloadKey}|${ep.ip}|${ep.port}`;
    const have = this.h2.get(key);
    if (have && !have.session.closed && !have.session.destroyed) {
      const cap = have.session.remoteSettings?.maxConcurrentStreams ?? 100;
      if (have.streams >= cap + L7_LIMITS.queuedPerEndpoint) return undefined;
      have.opened++;
      return this.lastStream(key, have, policy);
    }
    this.trim();
    const conn = socketLike(src.dial(ep));
    if (policy?.connectTimeoutMs) connectTimeout(conn, policy.connectTimeoutMs);
    const session = connect(`http://${ep.ip.includes(':') ? `[${ep.ip}]` : ep.ip}:${ep.port}`, {
      createConnection: () => conn,
      maxHeaderListPairs: 256,
      settings: { maxHeaderListSize: L7_LIMITS.maxHeaderBytes, enablePush: false },
    });
    const p: H2Pool = { session, streams: 0, opened: 1 };
    session.on('error', () => {});
    session.setTimeout(policy?.idleTimeoutMs ?? L7_LIMITS.upstreamIdleMs, () => {
      if (p.streams === 0) session.close();
    });
    session.on('close', () => {
      if (this.h2.get(key) === p) this.h2.delete(key);
    });
    this.h2.set(key, p);
    return this.lastStream(key, p, policy);
  }

  /** A session at maxRequestsPerConnection takes this stream, then closes once its streams end. */
  private lastStream(key: string, p: H2Pool, policy: CompiledTrafficPolicy | undefined): H2Pool {
    const max = policy?.maxRequestsPerConnection;
    if (max && p.opened >= max) {
      this.h2.delete(key);
      // After the caller's request() (close() first would refuse it).
      queueMicrotask(() => p.session.close());
    }
    return p;
  }

  /** At the pool bound, the pools holding nothing go (those of pods long gone, mostly). */
  private trim(): void {
    if (this.h1.size + this.h2.size < L7_LIMITS.pools) return;
    for (const [k, p] of this.h1) {
      if (p.queued === 0 && Object.keys(p.agent.sockets).length === 0) {
        p.agent.destroy();
        this.h1.delete(k);
      }
    }
    for (const [k, p] of this.h2) {
      if (p.streams === 0) {
        p.session.close();
        this.h2.delete(k);
      }
    }
  }

  /** Drops the pools of a source workload that left. */
  dropSource(workloadKey: string): void {
    const prefix = `${workloadKey}|`;
    for (const [k, p] of this.h1) {
      if (!k.startsWith(prefix)) continue;
      p.agent.destroy();
      this.h1.delete(k);
    }
    for (const [k, p] of this.h2) {
      if (!k.startsWith(prefix)) continue;
      p.session.close();
      this.h2.delete(k);
    }
  }

  size(): number {
    return this.h1.size + this.h2.size;
  }

  close(): void {
    for (const p of this.h1.values()) p.agent.destroy();
    for (const p of this.h2.values()) p.session.destroy();
    this.h1.clear();
    this.h2.clear();
  }
}

export type { H1Pool, H2Pool };
