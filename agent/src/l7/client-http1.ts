// Node's HTTP/1.1 server, never listening, fed client connections one at a time
// (as client-sessions.ts is for HTTP/2): each connection keeps the context it was
// handed with, reading pauses at L7_LIMITS.pipelined requests in flight, a message
// the parser refuses gets 400 (431 for headers too large) and the connection goes,
// a handler that throws costs its connection only, and after drain() every response
// says `Connection: close`. The outbound engine and the inbound authorization side
// each hold one.
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import type { Duplex } from 'node:stream';
import { L7_LIMITS } from './limits.ts';

export type Http1Handler<T> = (ctx: T, req: IncomingMessage, res: ServerResponse) => void;
export type UpgradeHandler<T> = (
  ctx: T,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
) => void;

export interface ClientHttp1Options<T> {
  onRequest: Http1Handler<T>;
  /** Absent: an `Upgrade` request is answered as any other. */
  onUpgrade?: UpgradeHandler<T>;
  /** A request's handling threw (a bug): its connection was closed. */
  onFault?(): void;
  /** A connection's first request started (true) or its last in flight finished (false). */
  busy?(conn: Duplex, busy: boolean): void;
  /** How long a request's header block may take to arrive; default L7_LIMITS.headersMs. */
  headersMs?: number;
}

// The HTTP/2 connection preface starts `PRI * HTTP/2.0`; no HTTP/1.1 method is PRI.
export const isPreface = (b: Buffer) =>
  b.length >= 3 && b[0] === 0x50 && b[1] === 0x52 && b[2] === 0x49;

/** Reads a connection's first bytes, puts them back, and says which protocol it speaks. */
export function byPreface(conn: Duplex, h2: () => void, h1: () => void): void {
  conn.once('data', (first: Buffer) => {
    conn.pause();
    conn.unshift(first);
    if (isPreface(first)) h2();
    else h1();
  });
}

/** A connection's context and its requests in flight, found once per request. */
interface ConnState<T> {
  readonly conn: Duplex;
  readonly ctx: T;
  inFlight: number;
  readonly busy: ((conn: Duplex, busy: boolean) => void) | undefined;
}

const STATE = Symbol('connection state');
type Tracked = ServerResponse & { [STATE]?: ConnState<unknown> };

/** A response closed: one function for every response, its connection read off it. */
function responseClosed(this: Tracked): void {
  const st = this[STATE];
  if (st === undefined) return;
  const left = --st.inFlight;
  if (left === L7_LIMITS.pipelined - 1) st.conn.resume();
  if (left === 0 && !st.conn.destroyed) st.busy?.(st.conn, false);
}

export class ClientHttp1<T> {
  private readonly server: Server;
  private readonly states = new WeakMap<object, ConnState<T>>();
  private readonly busy: ((conn: Duplex, busy: boolean) => void) | undefined;
  private draining = false;

  constructor(o: ClientHttp1Options<T>) {
    const busy = o.busy;
    this.busy = busy;
    const headersMs = o.headersMs ?? L7_LIMITS.headersMs;
    this.server = createServer({
      maxHeaderSize: L7_LIMITS.maxHeaderBytes,
      noDelay: true,
      // A header block that trickles in is answered 408 and its connection closed. The
      // request's body is bounded by its owner (a stalled body, the route's timeouts), not here.
      headersTimeout: headersMs,
      requestTimeout: 0,
      connectionsCheckingInterval: Math.min(5_000, headersMs),
    });
    // Node checks those times only for a server that listens; this one never does, as
    // connections are handed to it: start its checking as listening would.
    this.server.emit('listening');
    // A client keeps its connection as long as it would to its server: Node's 6 s keep-alive
    // would close idle connections under an app's pool and race its next request into a reset.
    // The owner's idle timer (L7_LIMITS.clientIdleMs) decides alone, and only for connections
    // with nothing in flight: a server 'timeout' listener stops Node destroying the socket itself.
    this.server.keepAliveTimeout = L7_LIMITS.clientIdleMs;
    this.server.on('timeout', () => {});
    this.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const conn = req.socket;
      const st = this.states.get(conn);
      if (st === undefined) return void res.destroy();
      const n = ++st.inFlight;
      if (n === 1) busy?.(conn, true);
      if (n >= L7_LIMITS.pipelined) conn.pause();
      if (this.draining) res.shouldKeepAlive = false;
      (res as Tracked)[STATE] = st;
      res.once('close', responseClosed);
      try {
        o.onRequest(st.ctx, req, res);
      } catch {
        o.onFault?.();
        conn.destroy();
      }
    });
    const up = o.onUpgrade;
    if (up)
      this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        const st = this.states.get(socket);
        if (st === undefined) return void socket.destroy();
        try {
          up(st.ctx, req, socket, head);
        } catch {
          o.onFault?.();
          socket.destroy();
        }
      });
    this.server.on('clientError', (e: NodeJS.ErrnoException, socket: Duplex) => {
      const status =
        e.code === 'HPE_HEADER_OVERFLOW' ? 431 : e.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
      if ((socket as { writable?: boolean }).writable)
        socket.end(
          `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`,
        );
      else socket.destroy();
    });
  }

  /** Serves a connection (its first bytes unshifted back, if read) with `ctx`. */
  serve(conn: Duplex, ctx: T): void {
    this.states.set(conn, { conn, ctx, inFlight: 0, busy: this.busy });
    this.server.emit('connection', conn);
    conn.resume();
  }

  /** Requests of `conn` not yet answered in full (pipelined ones included). */
  pending(conn: Duplex): number {
    return this.states.get(conn)?.inFlight ?? 0;
  }

  /** Every response from now on says `Connection: close`: clients move at a request boundary. */
  drain(): void {
    this.draining = true;
  }
}
