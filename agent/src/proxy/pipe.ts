// Joining two byte streams faithfully: bytes both ways with back-pressure (a
// side whose peer cannot keep up is paused until it drains), half-close (an
// end on one side becomes an end on the other while the reverse direction
// keeps flowing), and resets (a side that closes without ending cleanly, by
// error, RST or RST_STREAM, resets the other). Works for TCP sockets and
// HTTP/2 CONNECT streams alike. Hand-written rather than stream.pipe: this is
// the per-chunk hot path.
import { Socket } from 'node:net';
import { type Duplex, setDefaultHighWaterMark } from 'node:stream';
import { native } from '../datapath/index.ts';
import type { DirectionStats } from '../telemetry/index.ts';

/**
 * How much a joined stream buffers before its source pauses. Node's 16 KiB default
 * pauses and resumes the source on every 64 KiB socket read, and keeps HTTP/2 from
 * framing more than one read at a time (docs/performance.md). 256 KiB carries HBONE's
 * bulk as fast as 1 MiB did and costs a quarter of it per stalled reader: up to this
 * much read ahead on the paused side and this much queued on the writing side, per
 * direction, beside the kernel's socket buffers.
 */
export const JOIN_HIGH_WATER_MARK = 256 * 1024;

/** WEFT_STREAM_HIGH_WATER_MARK (bytes) replaces JOIN_HIGH_WATER_MARK, for measuring. */
export function streamHighWaterMark(env: Record<string, string | undefined>): number {
  const raw = env.WEFT_STREAM_HIGH_WATER_MARK;
  if (raw === undefined || raw === '') return JOIN_HIGH_WATER_MARK;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 16 * 1024 || n > 16 * 1024 * 1024) {
    throw new Error(`WEFT_STREAM_HIGH_WATER_MARK=${raw}: expected bytes from 16384 to 16777216`);
  }
  return n;
}

/**
 * Makes the stream high-water mark (above) the process's default: HTTP/2 streams take
 * no per-stream setting. For the proxy's own process (NodeProxy calls it), not a library's.
 */
export function tuneStreams(bytes = streamHighWaterMark(process.env)): void {
  setDefaultHighWaterMark(false, bytes);
}

/**
 * Bulk chunks an HTTP/2 stream hands over in one turn of the event loop leave in one
 * writev at its end. It hands over each DATA frame (16 KiB, one TLS record) on its own
 * callback: five writes, five wake-ups of the reader per 64 KiB read, which cost the
 * receiving proxy nearly a third of its CPU. Smaller chunks (a conversation) go out at once.
 */
export const BATCH_MIN = 8 * 1024;

/** How to reset one side: an RST for a socket, RST_STREAM for an HTTP/2 stream. */
export type Reset = (d: Duplex) => void;

export const resetSocket: Reset = (d) => {
  (d as Socket).resetAndDestroy();
};

export interface Counts {
  fromClient: number;
  toClient: number;
}

/** An HTTP/2 stream ended by RST_STREAM (Node still emits 'end' for it). */
function wasReset(d: Duplex): boolean {
  const rst = (d as { rstCode?: number }).rstCode;
  return rst !== undefined && rst !== 0;
}

// biome-ignore lint/suspicious/noExplicitAny: listeners of several events, removed as added
type Listener = (...args: any[]) => void;
type On = (d: Duplex, event: string, fn: Listener) => void;

function forward(
  on: On,
  from: Duplex,
  to: Duplex,
  counts: Counts,
  key: keyof Counts,
  resetTo: Reset,
  /** `from` had its 'end' before the join (see join()): passed on at once. */
  endedBefore: boolean,
): void {
  // A socket hands over one chunk per read: nothing to batch, and a socket pair
  // with nothing queued may move to the kernel relay (relay.ts).
  const batch = !(from instanceof Socket);
  let corked = false;
  const flush = () => {
    corked = false;
    to.uncork();
  };
  on(from, 'data', (chunk: Buffer) => {
    counts[key] += chunk.length;
    if (batch && !corked && chunk.length >= BATCH_MIN) {
      corked = true;
      to.cork();
      setImmediate(flush);
    }
    if (!to.write(chunk)) from.pause();
  });
  on(to, 'drain', () => from.resume());
  const ended = () => {
    // A reset arriving as an end must stay a reset on the other side.
    if (wasReset(from)) {
      if (!to.destroyed) resetTo(to);
    } else {
      to.end();
    }
  };
  on(from, 'end', ended);
  if (endedBefore) ended();
}

/** Whether a side went away without a clean end in both directions. */
function abrupt(d: Duplex, sawEnd: boolean): boolean {
  return !sawEnd || wasReset(d) || d.errored !== null;
}

/** The file descriptor of a TCP socket's handle, or -1 (none yet, or not a plain socket). */
export function fdOf(s: Socket): number {
  const fd = (s as unknown as { _handle?: { fd?: number } })._handle?.fd;
  return typeof fd === 'number' ? fd : -1;
}

let abortive: ((fd: number, on: boolean) => void) | null | undefined;

/** SO_LINGER {1,0} on or off through the addon; nothing without one (unit tests, tools). */
function setAbortive(fd: number, on: boolean): void {
  if (abortive === undefined) {
    try {
      const n = native();
      abortive = (f, o) => n.socketAbortive(f, o);
    } catch {
      abortive = null;
    }
  }
  try {
    abortive?.(fd, on);
  } catch {
    // The socket is already closed: nothing left to arm.
  }
}

/** Sockets made with SO_LINGER {1,0} already (socket-pool.ts): a join need not arm them. */
const armed = new WeakSet<Socket>();

/** Says that s has SO_LINGER {1,0} from its start. */
export function bornAbortive(s: Socket): void {
  armed.add(s);
}

/** SO_LINGER {1,0} on s, unless it has it already (a connected socket: it has an fd). */
export function armAbortive(s: Socket): void {
  if (armed.has(s)) return;
  const fd = fdOf(s);
  if (fd >= 0) setAbortive(fd, true);
  armed.add(s);
}

/**
 * A TCP socket of a join closes with RST unless it ended cleanly both ways: SO_LINGER
 * {1,0} from the start, cleared once it has both read and sent a FIN. So a proxy that
 * dies (even by SIGKILL, when the kernel closes its sockets) resets the app's connection
 * rather than ending it with a FIN that makes a cut-off transfer look complete.
 */
function resetIfCut(on: On, d: Duplex, readAlready = false): void {
  if (!(d instanceof Socket) || 'encrypted' in d) return;
  const arm = () => {
    const fd = fdOf(d);
    if (fd >= 0) setAbortive(fd, true);
  };
  if (armed.has(d)) {
    // made that way
  } else if (fdOf(d) >= 0) arm();
  else on(d, 'connect', arm);
  let read = readAlready;
  let sent = false;
  // Both run before Node closes the socket (it does so after these events' listeners).
  const clean = () => {
    const fd = fdOf(d);
    if (read && sent && fd >= 0 && d.errored === null) setAbortive(fd, false);
  };
  on(d, 'end', () => {
    read = true;
    clean();
  });
  on(d, 'finish', () => {
    sent = true;
    clean();
  });
}

/**
 * For a socket the L7 path serves or dials, which no join owns: marked busy (on) while a
 * request is in flight on it, idle (off) between requests, so a dying agent resets a
 * request or response it cut off but a kept-alive connection closed idle ends cleanly.
 * SO_LINGER {1,0} stays on from the first mark (or the socket's birth) to the end; a close
 * made while the socket is idle and unerrored (an idle timeout, a pool trimmed, the peer's
 * own end, a graceful exit) clears it first. So the marks cost no system call: one at most
 * per connection, not two per request. A SIGKILLed agent resets idle ones too.
 */
export function resetWhileBusy(d: Duplex, on: boolean): void {
  if (!(d instanceof Socket) || 'encrypted' in d) return;
  if (on) busy.add(d);
  else busy.delete(d);
  if (watched.has(d)) return;
  watched.add(d);
  if (fdOf(d) >= 0) armAbortive(d);
  else d.once('connect', () => armAbortive(d));
  const destroy = d.destroy;
  d.destroy = function (this: Socket, err?: Error) {
    if (err === undefined && this.errored === null && !busy.has(this)) {
      const fd = fdOf(this);
      if (fd >= 0) setAbortive(fd, false);
    }
    return destroy.call(this, err);
  };
}
const busy = new WeakSet<Duplex>();
/** Sockets resetWhileBusy has armed and whose close it watches. */
const watched = new WeakSet<Socket>();

/** Neither side ended, closed, nor holding bytes read and not passed on, or queued to write. */
export function idle(a: Duplex, b: Duplex): boolean {
  return ![a, b].some(
    (d) =>
      d.destroyed ||
      d.writableEnded ||
      d.readableEnded ||
      d.writableLength > 0 ||
      d.readableLength > 0,
  );
}

/** A join in progress: what crossed so far, whether it is still whole, and a way to let go. */
export interface Joined {
  readonly counts: Counts;
  /** Both sides open and neither has ended: nothing of the join's state is in flight. */
  quiet(): boolean;
  /** Removes every listener the join added; the caller owns both sides from then on. */
  detach(): void;
  /** Resets the client side (and so, by the join, the other): a revoked connection. */
  abort(): void;
}

/**
 * A reset that first lets out what batching held back: the bytes that came before the
 * reset reach the kernel, as they did when every chunk was written at once.
 */
function flushing(reset: Reset): Reset {
  return (d) => {
    while (d.writableCorked > 0) d.uncork();
    reset(d);
  };
}

/**
 * Joins client and upstream. `stats` (when given) gets the join's bytes, resets and
 * its end; the proxy passes null: its connection record (telemetry/connection.ts)
 * writes them from onDone.
 */
export function join(
  client: Duplex,
  upstream: Duplex,
  stats: DirectionStats | null,
  resetClientNow: Reset = resetSocket,
  resetUpstreamNow: Reset = resetSocket,
  onDone?: (resetSeen: boolean, counts: Counts) => void,
  /**
   * What crossed from the client before the join: its bytes (counted as fromClient), and
   * whether its end came too and was passed on already (its 'end' will not come again).
   */
  before?: { readonly fromClient: number; readonly clientEnded: boolean },
): Joined {
  const resetClient = flushing(resetClientNow);
  const resetUpstream = flushing(resetUpstreamNow);
  const added: [Duplex, string, Listener][] = [];
  const on: On = (d, event, fn) => {
    d.on(event, fn);
    added.push([d, event, fn]);
  };
  let open = 2;
  let resetSeen = false;
  // A socket or HTTP/2 stream emits 'end' at its EOF by itself, read or not, when nothing is
  // buffered (Node's onStreamRead): a FIN or END_STREAM that came before any byte and before
  // the join (while the app or upstream was still connecting) has had its only 'end' already.
  // It is passed on here, or the other side never ends.
  const clientEndedBefore = !before?.clientEnded && client.readableEnded;
  const upstreamEndedBefore = upstream.readableEnded;
  const ended = {
    client: (before?.clientEnded ?? false) || clientEndedBefore,
    upstream: upstreamEndedBefore,
  };
  const counts: Counts = { fromClient: before?.fromClient ?? 0, toClient: 0 };
  const closed = (side: Duplex, other: Duplex, sawEnd: boolean, resetOther: Reset) => {
    if (abrupt(side, sawEnd)) {
      resetSeen = true;
      if (!other.destroyed) resetOther(other);
    }
    if (--open === 0) {
      if (stats) {
        stats.active--;
        stats.bytesFromClient += counts.fromClient;
        stats.bytesToClient += counts.toClient;
        if (resetSeen) stats.reset++;
      }
      onDone?.(resetSeen, counts);
    }
  };
  // Errors surface as an abrupt close; a listener keeps them from being thrown.
  on(client, 'error', () => {});
  on(upstream, 'error', () => {});
  on(client, 'end', () => {
    ended.client = true;
  });
  on(upstream, 'end', () => {
    ended.upstream = true;
  });
  resetIfCut(on, client, ended.client);
  resetIfCut(on, upstream, ended.upstream);
  on(client, 'close', () => closed(client, upstream, ended.client, resetUpstream));
  on(upstream, 'close', () => closed(upstream, client, ended.upstream, resetClient));
  forward(on, client, upstream, counts, 'fromClient', resetUpstream, clientEndedBefore);
  forward(on, upstream, client, counts, 'toClient', resetClient, upstreamEndedBefore);
  return {
    counts,
    quiet: () => open === 2 && !ended.client && !ended.upstream && idle(client, upstream),
    detach() {
      for (const [d, event, fn] of added) d.off(event, fn);
      added.length = 0;
    },
    abort() {
      if (!client.destroyed) resetClient(client);
    },
  };
}
