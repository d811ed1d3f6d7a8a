// A token bucket: `rate` tokens a second, holding at most one second's worth (a
// burst of `rate`). Pure: the caller says what time it is (ms, any monotonic clock).
export class TokenBucket {
  private tokens: number;
  private last: number;
  readonly rate: number;

  constructor(rate: number, now: number) {
    this.rate = rate;
    this.tokens = rate;
    this.last = now;
  }

  private refill(now: number): void {
    if (now > this.last) {
      this.tokens = Math.min(this.rate, this.tokens + ((now - this.last) * this.rate) / 1000);
      this.last = now;
    }
  }

  /** Whether a token is there now (none taken). */
  has(now: number): boolean {
    this.refill(now);
    return this.tokens >= 1;
  }

  take(): void {
    this.tokens -= 1;
  }

  /** Milliseconds until the next token. */
  wait(now: number): number {
    this.refill(now);
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) * 1000) / this.rate);
  }

  /** Holds a full second's worth: the same as a fresh bucket. */
  full(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.rate;
  }
}
