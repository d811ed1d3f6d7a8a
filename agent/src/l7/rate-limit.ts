// Local rate limits at the destination (HTTPLocalRateLimitPolicy): per destination
// workload and policy, a bucket for all clients (`total`), one per client identity
// (`identity`) and one per override, shared by the clients it names. A request takes
// a token from each bucket that applies, or none when one is empty (429). Pure but
// for the clock the caller passes. Bounds: RATE_LIMIT_LIMITS (docs/resilience.md).
import type { RateLimitTable } from '../tables/index.ts';
import { TokenBucket } from './token-bucket.ts';

export const RATE_LIMIT_LIMITS = {
  /** Per-identity buckets of one (workload, policy); beyond, full (idle) ones go, then the oldest. */
  identitiesPerLimiter: 4096,
  /** (workload, policy) limiters kept; beyond, the oldest goes (its buckets start full again). */
  limiters: 1024,
};

export class Limiter {
  readonly table: RateLimitTable;
  private readonly total: TokenBucket | null;
  private readonly identities = new Map<string, TokenBucket>();
  private readonly overrides: TokenBucket[];
  allowed = 0;
  limited = 0;

  constructor(table: RateLimitTable, now: number) {
    this.table = table;
    this.total = table.total !== null ? new TokenBucket(table.total, now) : null;
    this.overrides = table.overrideRates.map((r) => new TokenBucket(r, now));
  }

  private identityBucket(id: string, now: number): TokenBucket | null {
    const rate = this.table.identity;
    if (rate === null) return null;
    let b = this.identities.get(id);
    if (b) return b;
    if (this.identities.size >= RATE_LIMIT_LIMITS.identitiesPerLimiter) this.evict(now);
    b = new TokenBucket(rate, now);
    this.identities.set(id, b);
    return b;
  }

  /** A full bucket is the same as none; failing those, the oldest goes. */
  private evict(now: number): void {
    for (const [k, b] of this.identities)
      if (b.full(now)) {
        this.identities.delete(k);
        if (this.identities.size < RATE_LIMIT_LIMITS.identitiesPerLimiter) return;
      }
    const oldest = this.identities.keys().next();
    if (!oldest.done) this.identities.delete(oldest.value);
  }

  /**
   * One request from `identity` (the client's SPIFFE ID, '' without one): 0 when it may
   * pass (its tokens taken), else the milliseconds until it could.
   */
  admit(identity: string, now: number): number {
    const o = this.table.overrides.get(identity);
    const own = o !== undefined ? this.overrides[o]! : this.identityBucket(identity, now);
    const total = this.total;
    let wait = 0;
    if (own && !own.has(now)) wait = own.wait(now);
    if (total && !total.has(now)) wait = Math.max(wait, total.wait(now));
    if (wait > 0) {
      this.limited++;
      return wait;
    }
    own?.take();
    total?.take();
    this.allowed++;
    return 0;
  }

  /** Per-identity buckets held now. */
  identityBuckets(): number {
    return this.identities.size;
  }
}

/** The limiters of one agent, by destination workload and policy limits. */
export class RateLimiters {
  /** By the table's key, then the workload: no string built per request. */
  private readonly byKey = new Map<string, Map<string, Limiter>>();
  private size = 0;

  /** The limiter for `workloadKey` under `table`: kept while the table's limits stay the same. */
  for(workloadKey: string, table: RateLimitTable, now: number): Limiter {
    let m = this.byKey.get(table.key);
    const l = m?.get(workloadKey);
    if (l) return l;
    if (this.size >= RATE_LIMIT_LIMITS.limiters) this.dropOldest();
    if (!m) {
      m = new Map();
      this.byKey.set(table.key, m);
    }
    const made = new Limiter(table, now);
    m.set(workloadKey, made);
    this.size++;
    return made;
  }

  private dropOldest(): void {
    for (const [k, m] of this.byKey) {
      const first = m.keys().next();
      if (!first.done) {
        m.delete(first.value);
        this.size--;
      }
      if (m.size === 0) this.byKey.delete(k);
      return;
    }
  }

  /** Allowed and limited requests per policy (`namespace/name`), summed over workloads. */
  counts(): Map<string, { allowed: number; limited: number }> {
    const out = new Map<string, { allowed: number; limited: number }>();
    for (const m of this.byKey.values())
      for (const l of m.values()) {
        const c = out.get(l.table.policy) ?? { allowed: 0, limited: 0 };
        c.allowed += l.allowed;
        c.limited += l.limited;
        out.set(l.table.policy, c);
      }
    return out;
  }
}
