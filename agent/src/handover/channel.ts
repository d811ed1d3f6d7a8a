// One end of a handover connection: messages out (with fds), messages in (with
// theirs), over the addon's non-blocking SOCK_SEQPACKET calls. libuv cannot watch
// a socket whose messages carry fds, so the channel polls: every POLL_MS while it
// waits for something, never otherwise; more slowly (IDLE_POLL_MS) while a drain
// sends little more than its reports.
import { native } from '../datapath/index.ts';
import { type Message, parseMessage } from './messages.ts';

export const POLL_MS = 2;
export const IDLE_POLL_MS = 20;

export interface Received {
  msg: Message;
  fds: number[];
}

export class Channel {
  private closed = false;
  readonly fd: number;

  constructor(fd: number) {
    this.fd = fd;
  }

  /** Sends one message; waits (polling) while the socket is full. */
  async send(msg: Message, fds: number[] = []): Promise<void> {
    const data = Buffer.from(JSON.stringify(msg));
    while (!native().fdSend(this.fd, data, fds)) await sleep(POLL_MS);
  }

  /** The next message, or null when the peer closed; throws after timeoutMs. */
  async receive(timeoutMs: number, pollMs = POLL_MS): Promise<Received | null> {
    const until = performance.now() + timeoutMs;
    for (;;) {
      if (this.closed) return null;
      const r = native().fdRecv(this.fd);
      if (r) {
        if (r.data.length === 0) return null;
        try {
          return { msg: parseMessage(r.data), fds: r.fds };
        } catch (e) {
          for (const fd of r.fds) native().closeFd(fd);
          throw e;
        }
      }
      if (performance.now() > until)
        throw new Error(`handover: nothing from the other agent for ${timeoutMs} ms`);
      await sleep(pollMs);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    native().closeFd(this.fd);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Closes fds that were received but not used (never throws). */
export function closeAll(fds: Iterable<number>): void {
  for (const fd of fds) {
    try {
      native().closeFd(fd);
    } catch {
      // already closed
    }
  }
}
