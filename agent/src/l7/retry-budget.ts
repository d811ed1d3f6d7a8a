// The retry budget of one (client workload, Service port), Linkerd's shape: retries
// within a sliding window may be at most `ratio` of the requests in it plus
// `minPerSecond` for each second of the window, so retries never multiply an outage.
// A second bound caps the retries outstanding at once (a DestinationRule's
// connectionPool.http.maxRetries). Pure: the clock is passed in.

export const RETRY_BUDGET = {
  /** Retries allowed per request in the window. */
  ratio: 0.2,
  /** Retries allowed per second of the window whatever the traffic (a quiet client may still retry). */
  minPerSecond: 10,
  /** The window, in one-second buckets. */
  windowSeconds: 10,
  /** Retries outstanding at once per (client, Service port) when no DestinationRule sets maxRetries. */
  maxConcurrent: 64,
  /** Budgets the engine keeps; beyond, they all start afresh (docs/resilience.md). */
  keys: 16_384,
};

export class RetryBudget {
  private readonly requests: Uint32Array;
  private readonly retries: Uint32Array;
  /** The second the newest bucket stands for. */
  private second = 0;
  private sumRequests = 0;
  private sumRetries = 0;
  /** Retries started and not yet ended. */
  outstanding = 0;
  /** Retries turned down: over the budget, over the concurrent cap. */
  exhausted = 0;
  overflow = 0;

  private readonly ratio: number;
  private readonly minPerSecond: number;
  private readonly window: number;

  constructor(
    ratio = RETRY_BUDGET.ratio,
    minPerSecond = RETRY_BUDGET.minPerSecond,
    window = RETRY_BUDGET.windowSeconds,
  ) {
    this.ratio = ratio;
    this.minPerSecond = minPerSecond;
    this.window = window;
    this.requests = new Uint32Array(window);
    this.retries = new Uint32Array(window);
  }

  /** Moves the window to `nowMs`, dropping the buckets that fell out of it. */
  private advance(nowMs: number): number {
    const s = Math.floor(nowMs / 1000);
    if (s > this.second) {
      const gone = Math.min(s - this.second, this.window);
      for (let k = 1; k <= gone; k++) {
        const i = (this.second + k) % this.window;
        this.sumRequests -= this.requests[i]!;
        this.sumRetries -= this.retries[i]!;
        this.requests[i] = 0;
        this.retries[i] = 0;
      }
      this.second = s;
    }
    return this.second % this.window;
  }

  /** One client request sent (counted once, however many attempts it takes). */
  deposit(nowMs: number): void {
    this.requests[this.advance(nowMs)]!++;
    this.sumRequests++;
  }

  /** Retries the window allows now. */
  allowed(nowMs: number): number {
    this.advance(nowMs);
    return Math.floor(this.sumRequests * this.ratio + this.minPerSecond * this.window);
  }

  /** Retries made in the window. */
  used(nowMs: number): number {
    this.advance(nowMs);
    return this.sumRetries;
  }

  /** Takes one retry when the budget and the concurrent cap allow it; the caller ends it with `release`. */
  withdraw(nowMs: number, maxConcurrent: number): 'ok' | 'budget' | 'overflow' {
    if (this.outstanding >= maxConcurrent) {
      this.overflow++;
      return 'overflow';
    }
    const i = this.advance(nowMs);
    if (this.sumRetries + 1 > this.sumRequests * this.ratio + this.minPerSecond * this.window) {
      this.exhausted++;
      return 'budget';
    }
    this.retries[i]!++;
    this.sumRetries++;
    this.outstanding++;
    return 'ok';
  }

  release(): void {
    if (this.outstanding > 0) this.outstanding--;
  }

  /** A retry withdrawn and not made: its share of the window comes back (it stays outstanding until released). */
  refund(nowMs: number): void {
    const i = this.advance(nowMs);
    if (this.retries[i]! > 0) {
      this.retries[i]!--;
      this.sumRetries--;
    }
  }
}

/** The budgets of one engine: client workload → Service port key → budget; bounded (RETRY_BUDGET.keys). */
export class RetryBudgets {
  private readonly map = new Map<string, Map<string, RetryBudget>>();
  private size = 0;

  private readonly max: number;

  constructor(max = RETRY_BUDGET.keys) {
    this.max = max;
  }

  /** Two lookups and no allocation once the budget exists (every request deposits). */
  get(client: string, key: string): RetryBudget {
    let m = this.map.get(client);
    let b = m?.get(key);
    if (b) return b;
    if (this.size >= this.max) {
      // Past the bound everything starts afresh: rare, and never refuses a request.
      this.map.clear();
      this.size = 0;
      m = undefined;
    }
    if (!m) {
      m = new Map();
      this.map.set(client, m);
    }
    b = new RetryBudget();
    m.set(key, b);
    this.size++;
    return b;
  }

  /** Each budget with its client and key. */
  *entries(): Generator<[string, string, RetryBudget]> {
    for (const [client, m] of this.map) for (const [key, b] of m) yield [client, key, b];
  }
}
