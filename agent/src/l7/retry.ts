// When a request is tried again, how long it waits first, and the body it must
// resend. A route's `retry` retries the listed statuses up to `attempts` times;
// a connect failure or a reset before any response byte is retried once on
// another endpoint even without one. Never once a response byte reached the
// client: the handlers only ask here before they answer. docs/resilience.md.
import type { Writable } from 'node:stream';
import type { Endpoint, RouteRetry } from '../state/index.ts';
import { type Decision, policyKey } from './decide.ts';
import { RETRY_BUDGET, type RetryBudget } from './retry-budget.ts';
import type { L7Source, L7View } from './source.ts';

export const RETRY_LIMITS = {
  /** A request body is kept for a retry up to this many bytes; a longer one is not retried. */
  bodyBytes: 64 * 1024,
  /** The first backoff when a route's `retry` gives none (Envoy's base interval). */
  backoffMs: 25,
  /** Backoff grows ×2 per retry up to this many times the first one (Envoy's cap). */
  backoffCap: 10,
};

/** Why a request was not retried (a response flag), or 'retry'. */
export type RetryVerdict =
  | 'retry'
  | 'no'
  | 'retry_body_too_large'
  | 'retry_budget_exhausted'
  | 'retry_overflow';

/** What the engine counts (weft_l7_retries_total{outcome}). */
export interface RetryCounts {
  retried: number;
  budget_exhausted: number;
  overflow: number;
  body_too_large: number;
}

export const newRetryCounts = (): RetryCounts => ({
  retried: 0,
  budget_exhausted: 0,
  overflow: 0,
  body_too_large: 0,
});

/** Whether the policy retries this answer (status) or this failure before an answer (undefined). Pure. */
export function wantsRetry(
  policy: RouteRetry | undefined,
  retries: number,
  status: number | undefined,
): boolean {
  if (status === undefined) return retries < (policy ? Math.max(policy.attempts, 0) : 1);
  return policy !== undefined && retries < policy.attempts && policy.codes.includes(status);
}

/**
 * The wait before retry number `n` (1-based): the route's backoff doubled per retry up
 * to RETRY_LIMITS.backoffCap times it, with jitter up to as much again on top (the
 * Gateway API's backoff is a minimum). `rand` in [0, 1).
 */
export function backoffMs(policy: RouteRetry | undefined, n: number, rand: number): number {
  const base = policy?.backoff ?? RETRY_LIMITS.backoffMs;
  const b = Math.min(base * 2 ** Math.max(n - 1, 0), base * RETRY_LIMITS.backoffCap);
  return b + rand * b;
}

/** A request body as it is sent, kept for a resend while it fits RETRY_LIMITS.bodyBytes. */
export class RetryBody {
  private chunks: Buffer[] = [];
  private bytes = 0;
  tooBig = false;
  ended = false;
  trailers: NodeJS.Dict<string> | undefined;
  /** Where chunks go now (the current attempt). */
  private to: Writable | undefined;

  /** A chunk from the client: kept (while it fits) and written to the current attempt. */
  push(c: Buffer): boolean {
    if (!this.tooBig) {
      this.bytes += c.length;
      if (this.bytes > RETRY_LIMITS.bodyBytes) {
        this.tooBig = true;
        this.chunks = [];
      } else this.chunks.push(c);
    }
    return this.to ? this.to.write(c) : true;
  }

  /** The client's body ended (with trailers, when it had some). */
  end(trailers?: NodeJS.Dict<string>): void {
    this.ended = true;
    this.trailers = trailers;
    if (this.to) this.close(this.to);
  }

  private close(w: Writable): void {
    const t = this.trailers;
    if (t && typeof (w as { addTrailers?: unknown }).addTrailers === 'function')
      (w as unknown as { addTrailers(t: NodeJS.Dict<string>): void }).addTrailers(t);
    w.end();
  }

  /** A new attempt takes the body: what was kept so far, then the rest as it comes. */
  attach(w: Writable): void {
    this.to = w;
    for (let i = 0; i < this.chunks.length; i++) w.write(this.chunks[i]);
    if (this.ended) this.close(w);
  }
}

/** One request's retry state; made only for a request with a route `retry` or once an attempt failed. */
export class RetryState {
  retries = 0;
  /** The endpoint that failed last, avoided by the next pick when the pool has another. */
  failed: Endpoint | undefined;
  /** The budget holds one of this request's retries (released when it ends). */
  private held: RetryBudget | undefined;

  readonly policy: RouteRetry | undefined;
  readonly body: RetryBody | undefined;

  constructor(policy: RouteRetry | undefined, body: RetryBody | undefined) {
    this.policy = policy;
    this.body = body;
  }

  /**
   * Whether to try again after `status` (undefined: no answer), taking one retry of the
   * budget when so. A body that no longer fits, or a spent budget, says why not.
   */
  decide(
    status: number | undefined,
    budget: RetryBudget,
    maxConcurrent: number,
    now: number,
    counts: RetryCounts,
  ): RetryVerdict {
    if (!wantsRetry(this.policy, this.retries, status)) return 'no';
    if (this.body?.tooBig) {
      counts.body_too_large++;
      return 'retry_body_too_large';
    }
    this.release();
    const got = budget.withdraw(now, maxConcurrent);
    if (got === 'budget') {
      counts.budget_exhausted++;
      return 'retry_budget_exhausted';
    }
    if (got === 'overflow') {
      counts.overflow++;
      return 'retry_overflow';
    }
    this.held = budget;
    this.retries++;
    counts.retried++;
    return 'retry';
  }

  /** A retry taken but not made (no endpoint left to send it to): given back. */
  undo(counts: RetryCounts, now: number): void {
    if (!this.held) return;
    this.held.refund(now);
    this.release();
    this.retries--;
    counts.retried--;
  }

  /** The request ended: its retry no longer counts as outstanding. */
  release(): void {
    this.held?.release();
    this.held = undefined;
  }
}

/** Retries outstanding at once to the decision's Service port: its DestinationRule's maxRetries, else the default. */
export function maxRetriesFor(view: L7View, src: L7Source, d: Decision): number {
  const tp = view.routes.trafficPolicies;
  if (!tp || tp.size === 0) return RETRY_BUDGET.maxConcurrent;
  return tp.get(policyKey(src, d))?.maxRetries ?? RETRY_BUDGET.maxConcurrent;
}
