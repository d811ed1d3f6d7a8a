// A log kept in memory, bounded twice: by entries and by bytes. Its entries
// carry what peers sent (authorities, paths, SPIFFE IDs), so a count alone
// bounds nothing: each string field is clipped to FIELD_MAX characters, and
// the oldest entries go once the estimated size passes the byte budget.
// A ring: adding an entry never moves the others.

/** Characters kept of one string field; the rest becomes a marker with its length. */
export const FIELD_MAX = 512;

/** A string clipped to max characters, saying how much was cut. */
export function clip(s: string, max = FIELD_MAX): string {
  return s.length <= max ? s : `${s.slice(0, max)}…(${s.length - max} more)`;
}

/** The same record with every string field clipped; the record itself when nothing was long. */
export function clipFields<T extends object>(e: T, max = FIELD_MAX): T {
  let out: T | null = null;
  for (const k in e) {
    const v = e[k];
    if (typeof v === 'string' && v.length > max) {
      out ??= { ...e };
      (out as Record<string, unknown>)[k] = clip(v, max);
    }
  }
  return out ?? e;
}

/**
 * What a flat record costs, estimated: 64 bytes for the object, 16 per field,
 * 2 per string character (V8 may store them in one), 8 per other value.
 */
export function estimateBytes(e: object): number {
  let n = 64;
  for (const k in e) {
    const v = (e as Record<string, unknown>)[k];
    n += 16 + (typeof v === 'string' ? 2 * v.length : 8);
  }
  return n;
}

export class BoundedLog<T extends object> {
  readonly maxEntries: number;
  readonly maxBytes: number;
  private readonly items: (T | undefined)[];
  private readonly costs: Float64Array;
  /** Index of the oldest entry. */
  private head = 0;
  private count = 0;
  private total = 0;

  constructor(maxEntries: number, maxBytes: number) {
    if (!(maxEntries >= 1) || !(maxBytes >= 1))
      throw new RangeError(`a bounded log needs room: ${maxEntries} entries, ${maxBytes} bytes`);
    this.maxEntries = maxEntries;
    this.maxBytes = maxBytes;
    this.items = new Array(maxEntries);
    this.costs = new Float64Array(maxEntries);
  }

  get length(): number {
    return this.count;
  }

  /** Estimated bytes held (estimateBytes of each entry). */
  get bytes(): number {
    return this.total;
  }

  /** Adds an entry (clip its fields first), dropping the oldest until it fits. */
  push(e: T): void {
    const cost = estimateBytes(e);
    while (this.count > 0 && (this.count === this.maxEntries || this.total + cost > this.maxBytes))
      this.dropOldest();
    const at = (this.head + this.count) % this.maxEntries;
    this.items[at] = e;
    this.costs[at] = cost;
    this.total += cost;
    this.count++;
  }

  /** Oldest first. */
  toArray(): T[] {
    return this.slice(0);
  }

  /** The entries from the i-th oldest on. */
  slice(from: number): T[] {
    const out: T[] = [];
    for (let i = Math.max(0, from); i < this.count; i++)
      out.push(this.items[(this.head + i) % this.maxEntries]!);
    return out;
  }

  private dropOldest(): void {
    this.total -= this.costs[this.head]!;
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.maxEntries;
    this.count--;
  }
}
