// The access log: one entry per connection the proxy carried, kept in a ring
// for the admin API (and so `weft status`/tests can read it). Written when a
// connection ends, never on the per-chunk path. Bounded by entries and bytes,
// with every field clipped (bounded-log.ts): peers choose what some fields hold.
// Times are kept as numbers and formatted only when read (accessLogJson).
import { BoundedLog, clipFields } from './bounded-log.ts';

export interface AccessEntry {
  /** ms since the epoch when the connection was accepted. */
  time: number;
  direction: 'outbound' | 'inbound';
  /** How it crossed: hbone (mTLS), local (same node, in process), plaintext. */
  via: 'hbone' | 'local' | 'plaintext';
  /** Verified SPIFFE ID of the source, or null for a plaintext peer. */
  source: string | null;
  sourceAddress: string | null;
  destination: string;
  destinationWorkload: string | null;
  bytesFromClient: number;
  bytesToClient: number;
  result: 'ok' | 'reset' | 'refused';
  detail?: string;
  /** AUDIT rules that matched the connection (or request). */
  audit?: string;
  /** Why weft refused or ended it itself (telemetry/connection.ts ResponseFlag). */
  responseFlags?: string;
}

/** An entry as the admin API serves it: its time in ISO 8601. */
export type AccessEntryJson = Omit<AccessEntry, 'time'> & { time: string };

export function accessEntryJson(e: AccessEntry): AccessEntryJson {
  return { ...e, time: new Date(e.time).toISOString() };
}

/** Entries kept at most, and their estimated bytes at most (the oldest go first). */
export const ACCESS_LOG_ENTRIES = 2000;
export const ACCESS_LOG_BYTES = 4 * 1024 * 1024;

export class AccessLog {
  private readonly ring: BoundedLog<AccessEntry>;

  constructor(entries = ACCESS_LOG_ENTRIES, bytes = ACCESS_LOG_BYTES) {
    this.ring = new BoundedLog(entries, bytes);
  }

  /** Whether request paths keep their query strings (they may carry tokens): off unless asked. */
  queryStrings = false;

  /** Called with every entry as it is added (the agent's flow log). */
  onEntry: ((e: AccessEntry) => void) | null = null;

  /** A request path as this log records it: without its query string unless asked. */
  path(p: string): string {
    if (this.queryStrings) return p;
    const q = p.indexOf('?');
    return q < 0 ? p : `${p.slice(0, q)}?…`;
  }

  /** Adds an entry; one without a time is stamped now. */
  add(e: Omit<AccessEntry, 'time'> & { time?: number }): void {
    const entry = clipFields(
      e.time === undefined ? { ...e, time: Date.now() } : (e as AccessEntry),
    );
    this.ring.push(entry);
    this.onEntry?.(entry);
  }

  entries(): AccessEntry[] {
    return this.ring.toArray();
  }

  /** Estimated bytes held. */
  get bytes(): number {
    return this.ring.bytes;
  }
}
