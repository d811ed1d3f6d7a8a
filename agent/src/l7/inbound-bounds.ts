// The destination side's bounds per client connection (docs/authorization-policy.md):
// its requests reach the app one at a time over its own app connection (app-line.ts);
// how many wait for that turn, and how long a request body may stall. Each InboundL7
// (one per node proxy) holds its own; `weft agent --http-body-timeout` sets bodyIdleMs.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

export interface InboundLimits {
  /**
   * Requests of one client connection waiting for their turn at the app (one is there at
   * a time, over the connection's own app connection); a client pipelining deeper
   * is cut off (reading pauses long before, at L7_LIMITS.pipelined).
   */
  readonly queuedPerClient: number;
  /**
   * How long a request body may go without a byte from the client before the request,
   * its app connection and the client connection are dropped.
   */
  readonly bodyIdleMs: number;
}

export const DEFAULT_INBOUND_LIMITS: InboundLimits = Object.freeze({
  queuedPerClient: 1024,
  bodyIdleMs: 15_000,
});

/** Turns at the app for one client connection: one request at a time, the rest in order. */
export class Turns {
  private active = false;
  private readonly waiting: (() => void)[] = [];
  private readonly conn: Duplex;
  private readonly limits: InboundLimits;

  constructor(conn: Duplex, limits: InboundLimits) {
    this.conn = conn;
    this.limits = limits;
  }

  acquire(go: () => void): void {
    if (!this.active) {
      this.active = true;
      go();
      return;
    }
    if (this.waiting.length >= this.limits.queuedPerClient) {
      this.conn.destroy();
      return;
    }
    this.waiting.push(go);
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active = false;
  }
}

/**
 * A request body that stops coming: after `idleMs` (bodyIdleMs) without a byte, the request
 * goes, with its app connection and the client connection (whose framing is lost).
 */
export function idleBody(req: IncomingMessage, up: { destroy(): void }, idleMs: number): void {
  if (req.complete) return;
  let last = performance.now();
  const check = () => {
    const idle = performance.now() - last;
    if (req.complete) return;
    if (idle < idleMs) {
      timer = setTimeout(check, idleMs - idle);
      timer.unref();
      return;
    }
    up.destroy();
    req.socket.destroy();
  };
  let timer = setTimeout(check, idleMs);
  timer.unref();
  req.on('data', () => {
    last = performance.now();
  });
  const stop = () => clearTimeout(timer);
  req.once('end', stop);
  req.once('close', stop);
}
