// Memory handed back once the agent is quiet. After a burst of traffic two things keep
// the agent at its peak size although it holds little: V8's old generation, which the
// heap flags (bin/weft) let grow to 128 MiB of garbage before a full collection, and
// glibc's arenas, which keep what TLS, HTTP/2 and socket buffers freed (the kernel gets
// back only a free top of the main heap). When the event loop has been nearly idle for
// a whole check interval, and the agent has grown (or freed) since it last gave memory back, it
// runs one full collection (when it grew, or the heap holds garbage worth it) and malloc_trim(0),
// the latter on the thread pool (it can take a quarter of a second).
// Under load nothing happens: a check costs one ELU reading.
// docs/performance.md, "Memory given back when quiet", has the figures.
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface MemoryReading {
  /** Share of the last interval the event loop was busy (0–1). */
  busy: number;
  rss: number;
  heapUsed: number;
  /** Memory V8 objects hold outside its heap: Buffers' backing stores, freed only by a collection. */
  external: number;
  /** Bytes in the C allocator's free chunks (trimmed ones too). */
  mallocFree: number;
}

export interface ReleaseMark {
  /** RSS right after the agent last gave memory back (0: never did). */
  rss: number;
  /** V8 heap in use right after the last full collection (0: none yet). */
  heapUsed: number;
  /** External memory right after the last full collection. */
  external: number;
  /** The allocator's free bytes right after the last trim. */
  mallocFree: number;
}

export const RELEASE = {
  checkMs: 5_000,
  /** Below this share of busy event loop, the agent counts as quiet. */
  quietBusy: 0.05,
  /** Growth of RSS, or of the allocator's free bytes, since the last release that is worth one. */
  minGrowth: 8 * 1024 * 1024,
  /** Growth of the V8 heap and its external memory since the last full collection that is worth one. */
  minGarbage: 8 * 1024 * 1024,
} as const;

/** What to do on this check: a full collection, malloc_trim, both or neither. */
export function releaseDecision(
  r: MemoryReading,
  last: ReleaseMark,
): { collect: boolean; trim: boolean } {
  if (r.busy >= RELEASE.quietBusy) return { collect: false, trim: false };
  // Grown since the last release, or freed since: connections that were open at the last
  // trim and closed since leave their memory free in the allocator, RSS unchanged.
  // Or holding Buffers no one uses: their backing stores (malloc) wait for a collection, and
  // the heap flags let V8 put that off for long; the RSS does not grow meanwhile.
  const grew = r.rss - last.rss >= RELEASE.minGrowth;
  const freed = r.mallocFree - last.mallocFree >= RELEASE.minGrowth;
  const garbage = r.heapUsed - last.heapUsed + (r.external - last.external);
  // Grown, it collects too: the native memory of dead sockets, TLS sessions and HTTP/2
  // sessions (OpenSSL's buffers, nghttp2's) is freed only when a collection finds their
  // JavaScript objects dead, and counts in neither the heap nor its external memory. After
  // three load rounds, trims alone held an agent at 366 MiB.
  const collect = last.heapUsed === 0 || grew || garbage >= RELEASE.minGarbage;
  if (last.rss > 0 && !grew && !freed && !collect) return { collect: false, trim: false };
  return { collect, trim: true };
}

type Gc = (options?: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

/**
 * V8's full collection, as --expose-gc gives it: the flag is set for contexts made
 * from now on, and a new context hands over its gc. Null where this V8 refuses.
 * The last-resort flavour collects until nothing more is freed and gives V8's spare
 * pages back: objects freed by the weak callbacks of the first pass (sockets, TLS
 * and HTTP/2 sessions and the native memory they hold) go in the same call. One
 * ordinary collection left an agent at 282 MiB that this brought to 107 (docs/performance.md).
 */
function fullCollection(): (() => void) | null {
  let gc: unknown = (globalThis as { gc?: unknown }).gc;
  if (typeof gc !== 'function') {
    try {
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc');
    } catch {
      return null;
    }
  }
  if (typeof gc !== 'function') return null;
  const f = gc as Gc;
  return () => f({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}

export interface MemoryReturn {
  /** Releases made so far (full collections, trims). */
  readonly counts: { collections: number; trims: number };
  close(): void;
}

/** Checks every RELEASE.checkMs; `trim` is malloc_trim, off the event loop (native addon). */
export function startMemoryReturn(
  trim: () => Promise<boolean>,
  mallocFree: () => number,
  checkMs: number = RELEASE.checkMs,
): MemoryReturn {
  const gc = fullCollection();
  const last: ReleaseMark = { rss: 0, heapUsed: 0, external: 0, mallocFree: 0 };
  const counts = { collections: 0, trims: 0 };
  let trimming = false;
  let elu = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(now, elu).utilization;
    elu = now;
    // Under load no reading is taken: mallinfo2 walks the allocator's free lists.
    if (busy >= RELEASE.quietBusy) return;
    const m = process.memoryUsage();
    const d = releaseDecision(
      { busy, rss: m.rss, heapUsed: m.heapUsed, external: m.external, mallocFree: mallocFree() },
      last,
    );
    if (d.collect && gc) {
      gc();
      counts.collections++;
      const after = process.memoryUsage();
      last.heapUsed = after.heapUsed;
      last.external = after.external;
    }
    if (d.trim && !trimming) {
      trimming = true;
      void trim()
        .catch(() => false)
        .then(() => {
          trimming = false;
          counts.trims++;
          last.rss = process.memoryUsage.rss();
          last.mallocFree = mallocFree();
        });
    }
  }, checkMs);
  timer.unref();
  return { counts, close: () => clearInterval(timer) };
}
