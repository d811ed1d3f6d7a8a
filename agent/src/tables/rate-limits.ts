// What an HTTPLocalRateLimitPolicy compiles to for each destination workload port
// its Service reaches (compile/rate-limits.ts): rates only, looked up per request by
// the destination side (l7/rate-limit.ts), which keeps the token buckets.

export interface RateLimitTable {
  /** `namespace/name` of the policy. */
  readonly policy: string;
  /** The limits written out: a workload's buckets are kept while it stays the same. */
  readonly key: string;
  /** Requests per second for every client together; null: no such limit. */
  readonly total: number | null;
  /** Requests per second for each client SPIFFE ID (clients without one share one bucket). */
  readonly identity: number | null;
  /** Client SPIFFE ID → index in overrideRates: the override's bucket, shared by its clients. */
  readonly overrides: ReadonlyMap<string, number>;
  readonly overrideRates: readonly number[];
}
