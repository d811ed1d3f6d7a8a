// A bug in one connection's handling must cost that connection, not the node.
// An exception escaping a connection handler would end the agent, and with it
// every proxied connection of every pod on the node (they fail closed until it
// is back). Handlers run inside contain(): the connection is aborted, the error
// counted and reported, and the agent carries on.
import type { DirectionStats } from '../telemetry/index.ts';

/** Where contained errors go: the agent's log, at most one line a second. */
export type ErrorReport = (e: unknown) => void;

export function contain(
  stats: DirectionStats,
  report: ErrorReport,
  abort: () => void,
  handle: () => void,
): void {
  try {
    handle();
  } catch (e) {
    stats.errors++;
    try {
      abort();
    } catch {
      // Already gone.
    }
    report(e);
  }
}

/**
 * At most one line per interval: `write` gets a note of how many were held back since the
 * last one (empty when none), so a flood costs a counter, not a log line each.
 */
export function throttled<T>(
  intervalMs: number,
  write: (more: string, what: T) => void,
): (what: T) => void {
  let last = Number.NEGATIVE_INFINITY;
  let quiet = 0;
  return (what) => {
    const now = performance.now();
    if (now - last < intervalMs) {
      quiet++;
      return;
    }
    last = now;
    const more = quiet > 0 ? ` (${quiet} more since the last report)` : '';
    quiet = 0;
    write(more, what);
  };
}

/** An ErrorReport that writes at most one line per interval and counts the rest. */
export function throttledReport(log: (line: string) => void, intervalMs = 1000): ErrorReport {
  return throttled<unknown>(intervalMs, (more, e) => {
    const what = e instanceof Error ? (e.stack ?? e.message) : String(e);
    log(`proxy: a connection handler failed; the connection was aborted${more}: ${what}`);
  });
}
