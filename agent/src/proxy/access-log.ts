// The access log: one entry per connection the proxy carried, kept in a ring
// for the admin API (and so `weft status`/tests can read it). Written when a
// connection ends, never on the per-chunk path.
export interface AccessEntry {
  time: string;
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
}

export class AccessLog {
  private readonly ring: AccessEntry[] = [];
  private readonly size: number;

  constructor(size = 2000) {
    this.size = size;
  }

  /** Called with every entry as it is added (the agent's flow log). */
  onEntry: ((e: AccessEntry) => void) | null = null;

  add(e: Omit<AccessEntry, 'time'>): void {
    if (this.ring.length === this.size) this.ring.shift();
    const entry = { time: new Date().toISOString(), ...e };
    this.ring.push(entry);
    this.onEntry?.(entry);
  }

  entries(): AccessEntry[] {
    return [...this.ring];
  }
}
