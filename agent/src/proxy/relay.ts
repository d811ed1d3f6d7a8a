// Joining two TCP sockets in the kernel once the proxy has routed them: the
// native relay splices bytes between them (native/src/relay.cc), so a plain
// connection's bulk never crosses into JavaScript. Same semantics as join()
// in pipe.ts (half-close, reset, back-pressure), which stays the way for
// anything that is not two plain sockets (HBONE streams, TLS) and the
// fallback when a socket cannot be handed over. WEFT_KERNEL_RELAY=0 turns it off.
import type { Socket } from 'node:net';
import { type MovedRelay, native } from '../datapath/index.ts';
import type { DirectionStats } from '../telemetry/index.ts';
import { armAbortive, type Counts, fdOf, idle, join, resetSocket } from './pipe.ts';

type Done = (resetSeen: boolean, counts: Counts) => void;

interface Pending {
  stats: DirectionStats | null;
  done: (ab: number, ba: number, reset: boolean) => void;
  /** What to do when it moves to another process: its stats no longer count it here. */
  moved: () => void;
}
const pending = new Map<number, Pending>();
let started: boolean | undefined;
let handedOver = 0;

/** How many connections this process has handed to the kernel relay so far. */
export function kernelRelays(): number {
  return handedOver;
}

let allowed = process.env.WEFT_KERNEL_RELAY !== '0';

/**
 * Turns the relay off for this process (the agent does under --splice: sk_msg redirects
 * into the loopback sockets the relay would read, and the two do not mix).
 */
export function useKernelRelay(on: boolean): void {
  allowed = on && process.env.WEFT_KERNEL_RELAY !== '0';
}

function available(): boolean {
  if (!allowed) return false;
  if (started === undefined) {
    started = false;
    try {
      native().relayStart((id, ab, ba, reset) => {
        const f = pending.get(id);
        pending.delete(id);
        f?.done(ab, ba, reset);
      });
      started = true;
    } catch {
      // An addon without the relay: JavaScript joins everything.
    }
  }
  return started;
}

/**
 * Bytes a join carries in JavaScript before it tries the kernel relay: none. The hand-off
 * costs system calls (docs/performance.md counts them), but a short connection's few
 * messages cost more in Node's streams: deferring it to 64 KiB measured 750 against 697 µs
 * of the agents' CPU per same-node connection. WEFT_KERNEL_RELAY_AFTER (bytes) defers it,
 * for measuring; a join below it stays in JavaScript until it has carried that much.
 */
export const RELAY_AFTER_BYTES = 0;

/** WEFT_KERNEL_RELAY_AFTER, checked: bytes from 0 to 1 GiB. */
export function relayAfter(env: Record<string, string | undefined>): number {
  const raw = env.WEFT_KERNEL_RELAY_AFTER;
  if (raw === undefined || raw === '') return RELAY_AFTER_BYTES;
  if (!/^\d+$/.test(raw) || Number(raw) > 1 << 30)
    throw new Error(`WEFT_KERNEL_RELAY_AFTER=${raw}: expected bytes from 0 to 1073741824`);
  return Number(raw);
}

let after = relayAfter(process.env);
/** Joins below the threshold, each with what moves it on at once (a handover does). */
const waiting = new Set<() => void>();

/** Sets the threshold for joins made from now on (tests, measurements). */
export function setRelayAfter(bytes: number): void {
  after = bytes;
}

/**
 * From now on every join goes to the kernel relay as soon as it is quiet, whatever it has
 * carried: the agent is handing over, and only relayed connections move to the next one.
 */
export function relayEverything(): void {
  after = 0;
  for (const go of [...waiting]) go();
}

/**
 * join() for two TCP sockets, moved into the kernel once it has carried RELAY_AFTER_BYTES
 * and nothing of it is in flight in Node: upstream connected, no write queued, nothing read
 * and not yet written, neither side ended. Until then (and for good, if that moment never
 * comes) JavaScript carries it. client's bytes count as fromClient; onDone runs once, after
 * both sides are closed. onMoved runs instead of onDone when the connection moves to the
 * agent that takes over.
 */
export function joinSockets(
  client: Socket,
  upstream: Socket,
  stats: DirectionStats | null,
  onDone: Done,
  onMoved?: () => void,
  counted?: DirectionStats,
): Relayed {
  const p: Pair = { client, upstream, stats, onDone, onMoved, counted };
  if (upstream.connecting && after === 0 && available()) return untilConnected(p);
  return joinNow(p);
}

/** A pair joinSockets carries, and whom it tells. */
interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
  readonly stats: DirectionStats | null;
  readonly onDone: Done;
  readonly onMoved?: (() => void) | undefined;
  /**
   * The direction's counters when a connection record, not `stats`, keeps them: a handover
   * tells the next agent by them which direction a moved connection is.
   */
  readonly counted?: DirectionStats | undefined;
}

/**
 * Registers a pair the relay took as `id`, `before` carried already; Node lets go of its
 * own fds. `gone` runs when the relay has ended the pair or handed it to the next agent.
 */
function handOver(id: number, p: Pair, before: Counts, gone: () => void): void {
  const { client, upstream, stats } = p;
  handedOver++;
  client.pause();
  upstream.pause();
  pending.set(id, {
    stats: stats ?? p.counted ?? null,
    done: (ab, ba, reset) => {
      const counts = { fromClient: before.fromClient + ab, toClient: before.toClient + ba };
      if (stats) {
        stats.active--;
        stats.bytesFromClient += counts.fromClient;
        stats.bytesToClient += counts.toClient;
        if (reset) stats.reset++;
      }
      gone();
      p.onDone(reset, counts);
    },
    moved: () => {
      if (stats) stats.active--;
      gone();
      p.onMoved?.();
    },
  });
  // The relay holds copies of the fds: Node lets go of its own (a close, not a shutdown).
  client.destroy();
  upstream.destroy();
}

/**
 * Until upstream connects nothing can cross, so a few listeners stand in for join(): at the
 * connect, a pair with nothing in flight goes to the relay without a join ever made (the
 * usual case: a join's twenty listeners, added and taken off again, cost more than the
 * connection's hand-off); anything else gets its join then. A side that goes away first
 * ends it as join() would: the other side reset, nothing carried.
 */
function untilConnected(p: Pair): Relayed {
  const { client, upstream, stats } = p;
  let later: Relayed | null = null;
  let relayId = 0;
  const ignore = () => {};
  client.on('error', ignore);
  upstream.on('error', ignore);
  const off = () => {
    upstream.off('connect', connected);
    client.off('close', clientClosed);
    upstream.off('close', upstreamClosed);
  };
  const gone = (other: Socket) => {
    off();
    const done = () => {
      if (stats) {
        stats.active--;
        stats.reset++;
      }
      p.onDone(true, { fromClient: 0, toClient: 0 });
    };
    if (other.closed) return done();
    other.once('close', done);
    if (!other.destroyed) other.resetAndDestroy();
  };
  const clientClosed = () => gone(upstream);
  const upstreamClosed = () => gone(client);
  const connected = () => {
    off();
    if (idle(client, upstream) && fdOf(client) >= 0 && fdOf(upstream) >= 0) {
      // What join() would have armed: the relay keeps it (native/src/relay.cc).
      armAbortive(client);
      armAbortive(upstream);
      try {
        relayId = native().relayAdd(fdOf(client), fdOf(upstream));
      } catch {
        relayId = 0; // JavaScript keeps it
      }
      if (relayId > 0) {
        handOver(relayId, p, { fromClient: 0, toClient: 0 }, () => {
          relayId = -1;
        });
        return;
      }
    }
    later = joinNow(p);
  };
  upstream.once('connect', connected);
  client.once('close', clientClosed);
  upstream.once('close', upstreamClosed);
  return {
    abort() {
      if (later) later.abort();
      else if (relayId > 0) native().relayReset(relayId);
      else if (relayId === 0 && !client.destroyed) client.resetAndDestroy();
    },
  };
}

function joinNow(p: Pair): Relayed {
  const { client, upstream, stats, onDone } = p;
  const relayed = available();
  const joined = join(
    client,
    upstream,
    stats,
    resetSocket,
    resetSocket,
    relayed
      ? (reset, counts) => {
          waiting.delete(go);
          onDone(reset, counts);
        }
      : onDone,
  );
  // Resets the connection wherever it is carried: in JavaScript, or in the kernel relay.
  let relayId = 0;
  const handle: Relayed = {
    abort() {
      if (relayId === 0) joined.abort();
      else if (relayId > 0) native().relayReset(relayId);
    },
  };
  if (!relayed) return handle;
  let tries = 0;
  const attempt = () => {
    if (upstream.connecting) return;
    if (!joined.quiet() || fdOf(client) < 0 || fdOf(upstream) < 0) {
      // Busy now: try again when a write queue empties, a few times.
      if (++tries > MAX_TRIES) stop();
      return;
    }
    stop();
    let id: number;
    try {
      id = native().relayAdd(fdOf(client), fdOf(upstream));
    } catch {
      return; // JavaScript keeps it
    }
    // Synchronous from the check to here: Node reads nothing in between.
    relayId = id;
    joined.detach();
    client.on('error', () => {});
    upstream.on('error', () => {});
    handOver(id, p, { ...joined.counts }, () => {
      relayId = -1;
    });
  };
  // After a chunk was passed on, its write has usually finished by the next turn of the
  // loop: a conversation of small messages never drains, so it is tried then too.
  let scheduled = false;
  const soon = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      if (!stopped) attempt();
    });
  };
  let stopped = false;
  const stop = () => {
    stopped = true;
    upstream.off('connect', attempt);
    upstream.off('drain', attempt);
    client.off('drain', attempt);
    upstream.off('data', soon);
    client.off('data', soon);
  };
  const go = () => {
    waiting.delete(go);
    client.off('data', watch);
    upstream.off('data', watch);
    upstream.on('connect', attempt);
    upstream.on('drain', attempt);
    client.on('drain', attempt);
    upstream.on('data', soon);
    client.on('data', soon);
    attempt();
  };
  // Counted by join's own listeners, which run first.
  const watch = () => {
    if (joined.counts.fromClient + joined.counts.toClient >= after) go();
  };
  if (after === 0) {
    go();
  } else {
    waiting.add(go);
    client.on('data', watch);
    upstream.on('data', watch);
  }
  return handle;
}

/** A joined pair, wherever it is carried. */
export interface Relayed {
  /** Resets both sides (a revoked connection); its onDone follows with reset seen. */
  abort(): void;
}

const MAX_TRIES = 16;

/** Connections in the kernel relay of this process right now. */
export function relaysLive(): number {
  return pending.size;
}

/**
 * Takes every connection out of this process's relay to hand it to the agent that takes
 * over (handover/). Their sockets and pipes (with the bytes in them) become the caller's;
 * this process no longer counts them nor logs their end.
 */
export function exportRelays(): { relay: MovedRelay; stats: DirectionStats | undefined }[] {
  if (!started) return [];
  return native()
    .relayExport()
    .map((relay) => {
      const p = pending.get(relay.id);
      pending.delete(relay.id);
      p?.moved();
      return { relay, stats: p?.stats ?? undefined };
    });
}

/** Relays a connection the previous agent exported; counted in stats until it ends. */
export function adoptRelay(m: MovedRelay, stats: DirectionStats): boolean {
  if (!available()) return false;
  const id = native().relayImport(m);
  stats.active++;
  pending.set(id, {
    stats,
    done: (ab, ba, reset) => {
      stats.active--;
      stats.bytesFromClient += ab;
      stats.bytesToClient += ba;
      if (reset) stats.reset++;
    },
    moved: () => {
      stats.active--;
    },
  });
  return true;
}
