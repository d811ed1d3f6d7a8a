// Dead peers. An HBONE session whose peer stops answering (node powered off,
// link cut, agent frozen) would otherwise keep its streams, and the app
// connections joined to them, hanging until TCP gives up, about 15 minutes
// later, and the pool would keep opening new streams on it. A PING every
// interval that goes unanswered for `timeoutMs` destroys the session: its
// streams reset, their apps see a reset, and the pool opens a fresh session
// for the next connection.
import type { Http2Session } from 'node:http2';

export interface Keepalive {
  intervalMs: number;
  timeoutMs: number;
}

export const DEFAULT_KEEPALIVE: Keepalive = { intervalMs: 10_000, timeoutMs: 10_000 };

/** Watches one session until it closes. Timers never keep the process alive. */
export function keepAlive(session: Http2Session, k: Keepalive): void {
  let waiting: NodeJS.Timeout | undefined;
  const answered = () => {
    clearTimeout(waiting);
    waiting = undefined;
  };
  const tick = setInterval(() => {
    if (waiting || session.destroyed || session.closed || session.connecting) return;
    waiting = setTimeout(() => {
      session.destroy(new Error(`HBONE peer did not answer a PING within ${k.timeoutMs} ms`));
    }, k.timeoutMs).unref();
    // An error (session closing, PING cancelled) is no answer from a dead peer either way.
    if (!session.ping(answered)) answered();
  }, k.intervalMs).unref();
  session.once('close', () => {
    clearInterval(tick);
    answered();
  });
}
