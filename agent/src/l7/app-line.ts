// The destination side's connection to the app for one client connection: its
// requests reach the app in turn over one kept-alive connection of its own, made
// at its first request and closed with the client's. `http.request` takes it as
// its agent. A shared pool would cost a lookup, its bookkeeping and a peek at
// every pooled socket per request (one recvfrom), and would let one client's
// connection carry another's requests; here the app sees what it would see
// without the mesh, one connection per client connection.
// Bounds: one app connection per client connection; the requests waiting for it
// are held by the client connection's Turns (inbound-bounds.ts), so at most one
// waits here, for the connection's hand-back after the last answer.
import type { ClientRequest } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Endpoint } from '../state/index.ts';
import { type Dialer, socketLike } from './upstream.ts';

type Req = ClientRequest & { reusedSocket: boolean };

export class AppLine {
  // What http.request reads of an agent.
  readonly keepAlive = true;
  readonly protocol = 'http:';
  readonly defaultPort = 80;
  readonly options = {};
  private sock: Duplex | null = null;
  private atApp = false;
  private readonly waiting: Req[] = [];
  private closed = false;
  private readonly dialer: Dialer;
  private readonly ep: Endpoint;

  constructor(dialer: Dialer, ep: Endpoint) {
    this.dialer = dialer;
    this.ep = ep;
  }

  /** http.request's hand-over: the request goes out now, or after those before it. */
  addRequest(req: Req): void {
    if (this.atApp) this.waiting.push(req);
    else this.give(req);
  }

  private give(req: Req): void {
    if (this.closed) {
      req.destroy(new Error('client connection closed'));
      return;
    }
    this.atApp = true;
    const have = this.sock;
    if (have && !have.destroyed && have.writable) {
      req.reusedSocket = true;
      this.dialer.busy?.(have);
      req.onSocket(have as never);
      return;
    }
    let s: Duplex;
    try {
      s = socketLike(this.dialer.dial(this.ep));
    } catch (e) {
      this.atApp = false;
      // A refused dial is the request's error, after the caller has listened.
      process.nextTick(() => req.destroy(e as Error));
      return;
    }
    this.sock = s;
    s.on('error', () => {});
    // The response ended and the connection stays: the next request, if one waits.
    s.on('free', () => {
      if (this.sock !== s) return;
      this.next(s);
    });
    // Gone (the app closed it, a reset, a request torn down): the next request dials anew.
    s.once('close', () => {
      if (this.sock !== s) return;
      this.sock = null;
      if (this.atApp) this.next(null);
    });
    this.dialer.busy?.(s);
    req.onSocket(s as never);
  }

  private next(s: Duplex | null): void {
    this.atApp = false;
    let req = this.waiting.shift();
    // One torn down while it waited (its client went) needs no connection.
    while (req?.destroyed) req = this.waiting.shift();
    if (req) this.give(req);
    else if (s) this.dialer.idle?.(s);
  }

  /** The client connection closed: its app connection goes too. */
  close(): void {
    this.closed = true;
    const s = this.sock;
    this.sock = null;
    s?.destroy();
    for (const r of this.waiting.splice(0)) r.destroy();
  }
}
