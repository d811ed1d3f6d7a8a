// The destination side's bounds per client connection (docs/authorization-policy.md):
// how many of its requests are at the app at once, how many wait for such a turn,
// and how long a request body may stall. Each InboundL7 (one per node proxy) holds
// its own; `weft agent --http-body-timeout` sets bodyIdleMs.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

export interface InboundLimits {
  /**
   * Requests of one client connection at the app at once, so pipelined requests cannot
   * open an app connection each (the rest wait their turn, in order).
   */
  readonly appConnsPerClient: number;
  /**
   * Requests of one client connection waiting for such a turn; a client pipelining deeper
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
  appConnsPerClient: 4,
  queuedPerClient: 1024,
  bodyIdleMs: 15_000,
});

/** Turns at the app for one client connection: at most appConnsPerClient at once. */
export class Turns {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly conn: Duplex;
  private readonly limits: InboundLimits;

  constructor(conn: Duplex, limits: InboundLimits) {
    this.conn = conn;
    this.limits = limits;
  }

  acquire(go: () => void): void {
    if (this.active < this.limits.appConnsPerClient) {
      this.active++;
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
    else this.active--;
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
