// The L7 engine's per-node state is bounded (docs/resilience.md lists the numbers): each
// bound is reached here and holds.
import { expect, it } from 'vitest';
import { POOL_LIMITS, Pools } from '../../../agent/src/l7/endpoint-pools.ts';
import { RATE_LIMIT_LIMITS, RateLimiters } from '../../../agent/src/l7/rate-limit.ts';
import { RETRY_BUDGET, RetryBudgets } from '../../../agent/src/l7/retry-budget.ts';
import type { RateLimitTable } from '../../../agent/src/tables/rate-limits.ts';

it(`keeps balancer state for at most ${POOL_LIMITS.ports} Service ports`, () => {
  const pools = new Pools(() => 0);
  for (let i = 0; i <= POOL_LIMITS.ports; i++) pools.get(`shop/s${i}:80`, undefined);
  const kept = pools.snapshot().length;
  expect(kept).toBeLessThanOrEqual(POOL_LIMITS.ports);
  // The newest is among those kept.
  expect(pools.find(`shop/s${POOL_LIMITS.ports}:80`)).toBeDefined();
});

it(`keeps at most ${RETRY_BUDGET.keys} retry budgets`, () => {
  const budgets = new RetryBudgets();
  for (let i = 0; i <= RETRY_BUDGET.keys; i++) budgets.get(`shop/c${i % 100}`, `shop/s${i}:80`);
  expect([...budgets.entries()].length).toBeLessThanOrEqual(RETRY_BUDGET.keys);
});

it(`keeps at most ${RATE_LIMIT_LIMITS.limiters} rate limiters, the oldest going first`, () => {
  const t: RateLimitTable = {
    policy: 'shop/limit',
    key: 'k',
    total: null,
    identity: 1,
    overrides: new Map(),
    overrideRates: [],
  };
  const r = new RateLimiters();
  const first = r.for('shop/w-0', t, 0);
  for (let i = 1; i <= RATE_LIMIT_LIMITS.limiters; i++) r.for(`shop/w-${i}`, t, 0);
  const last = r.for(`shop/w-${RATE_LIMIT_LIMITS.limiters}`, t, 0);
  expect(r.for(`shop/w-${RATE_LIMIT_LIMITS.limiters}`, t, 0)).toBe(last);
  // The first was dropped to make room: asking again makes a new one.
  expect(r.for('shop/w-0', t, 0)).not.toBe(first);
});
