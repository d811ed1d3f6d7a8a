// Dead peers. An HBONE session whose peer stops answering (node powered off,
// link cut, agent frozen) would otherwise keep its streams, and the app
// connections joined to them, hanging until TCP gives up, about 15 minutes
// later, and the pool would keep opening new streams on it. A PING every
// interval that goes unanswered for `timeoutMs` destroys the session: its
// streams reset, their apps see a reset, and the pool opens a fresh session
// for the next connection. A session still in its handshake after `timeoutMs`
// is destroyed the same way (a frozen peer's kernel completes TCP, nothing more).
import type { Http2Session } from 'node:http2';

export interface Keepalive {
  intervalMs: number;
  timeoutMs: number;
}

export const DEFAULT_KEEPALIVE: Keepalive = { intervalMs: 10_000, timeoutMs: 10_000 };
/** Below this, PINGs would be a load of their own. */
export const MIN_KEEPALIVE_MS = 100;

/** Watches one session until it is destroyed. Timers never keep the process alive. */
export function keepAlive(session: Http2Session, k: Keepalive): void {
  let waiting: NodeJS.Timeout | undefined;
  const answered = () => {
    clearTimeout(waiting);
    waiting = undefined;
  };
  const give = (what: string) => session.destroy(new Error(`HBONE peer ${what}`));
  const handshake = session.connecting
    ? setTimeout(() => {
        if (session.connecting) give(`did not finish the handshake within ${k.timeoutMs} ms`);
      }, k.timeoutMs).unref()
    : undefined;
  const tick = setInterval(() => {
    // A closed (draining) session is pinged too: its streams still need a live peer.
    if (waiting || session.destroyed || session.connecting) return;
    waiting = setTimeout(() => {
      // Timers run before the loop reads sockets: after a stall, the answer may be
      // waiting unread. Decide after this turn's reads.
      setImmediate(() => {
        if (waiting) give(`did not answer a PING within ${k.timeoutMs} ms`);
      });
    }, k.timeoutMs).unref();
    try {
      // An error (PING cancelled) is no answer from a dead peer either way.
      if (!session.ping(answered)) answered();
    } catch {
      answered(); // a session Node no longer lets us ping is on its way out
    }
  }, k.intervalMs).unref();
  session.once('close', () => {
    clearInterval(tick);
    clearTimeout(handshake);
    answered();
  });
}
