// Statistics of the benchmark: medians over rounds and comparisons with the
// direct path. Pure. A failed measurement is NaN and stays NaN through every
// figure derived from it, so a table never shows a number that was not measured.

/** The median; NaN when there is nothing to take it of or any sample failed (NaN). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0 || xs.some((x) => Number.isNaN(x))) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** `x` as a fraction of `base` (1 = same as base); NaN when either is missing or base is 0. */
export function ratio(x: number, base: number): number {
  if (Number.isNaN(x) || Number.isNaN(base) || base === 0) return Number.NaN;
  return x / base;
}

/** What `x` adds to `base` (latencies); NaN when either is missing. */
export function added(x: number, base: number): number {
  return x - base;
}

/** CPU milliseconds per 1,000 operations from a cgroup usage delta in microseconds. */
export function cpuMsPerThousand(usageUsec: number, operations: number): number {
  if (!(operations > 0) || Number.isNaN(usageUsec)) return Number.NaN;
  return usageUsec / 1000 / (operations / 1000);
}

/**
 * The order rows are measured in during round `round`: the same cycle every
 * round, started one row later each time, so no row is always first (after a
 * quiet spell) or always last.
 */
export function roundOrder<T>(rows: readonly T[], round: number): T[] {
  if (rows.length === 0) return [];
  const k = round % rows.length;
  return [...rows.slice(k), ...rows.slice(0, k)];
}
