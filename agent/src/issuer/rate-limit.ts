// How often one source may make the issuer ask the API server (a TokenReview):
// a token bucket per source (the client's address; every unix-socket client is
// one source), and one for all sources together, so that many addresses cannot
// add up to a flood either. The sources remembered are bounded: past MAX the
// least recently seen is forgotten (it starts again with a full bucket, which
// the global bucket still bounds).

export interface RateLimit {
  /** Tokens added per second, per source. */
  perSecond: number;
  /** Bucket size per source: what a source may spend at once. */
  burst: number;
  /** Sources remembered at most. */
  maxSources: number;
  /** The same for all sources together. */
  globalPerSecond: number;
  globalBurst: number;
}

/**
 * One agent has one token, reviewed at most once a minute (tokenreview.ts caches answers
 * 60 s): these leave it room and hold a hostile client to one review a second.
 */
export const DEFAULT_REVIEW_LIMIT: RateLimit = {
  perSecond: 1,
  burst: 10,
  maxSources: 4096,
  globalPerSecond: 50,
  globalBurst: 100,
};

interface Bucket {
  tokens: number;
  at: number;
}

function refill(b: Bucket, now: number, perSecond: number, burst: number): void {
  b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * perSecond);
  b.at = now;
}

/** Milliseconds until bucket b holds a whole token again. */
const wait = (b: Bucket, perSecond: number) => Math.ceil(((1 - b.tokens) / perSecond) * 1000);

export class SourceRateLimiter {
  readonly limit: RateLimit;
  private readonly sources = new Map<string, Bucket>();
  private readonly all: Bucket;

  constructor(limit: RateLimit = DEFAULT_REVIEW_LIMIT, now = performance.now()) {
    if (!(limit.perSecond > 0 && limit.burst >= 1 && limit.maxSources >= 1))
      throw new RangeError('a rate limit needs a positive rate, a burst of 1 or more and a source');
    if (!(limit.globalPerSecond > 0 && limit.globalBurst >= 1))
      throw new RangeError(
        'a rate limit needs a positive global rate and a global burst of 1 or more',
      );
    this.limit = limit;
    this.all = { tokens: limit.globalBurst, at: now };
  }

  /** Sources remembered now. */
  get size(): number {
    return this.sources.size;
  }

  /** Spends one token of source's bucket and the global one: 0, or the milliseconds to wait. */
  take(source: string, now = performance.now()): number {
    const l = this.limit;
    let b = this.sources.get(source);
    if (b) {
      this.sources.delete(source); // re-inserted below: the map's order is least recently seen first
      refill(b, now, l.perSecond, l.burst);
    } else {
      b = { tokens: l.burst, at: now };
      if (this.sources.size >= l.maxSources)
        this.sources.delete(this.sources.keys().next().value as string);
    }
    this.sources.set(source, b);
    refill(this.all, now, l.globalPerSecond, l.globalBurst);
    if (b.tokens < 1) return wait(b, l.perSecond);
    if (this.all.tokens < 1) return wait(this.all, l.globalPerSecond);
    b.tokens -= 1;
    this.all.tokens -= 1;
    return 0;
  }
}
