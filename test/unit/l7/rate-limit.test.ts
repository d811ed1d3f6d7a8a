// Token buckets and the destination's limiter, on an injected clock.
import { describe, expect, it } from 'vitest';
import { Limiter, RATE_LIMIT_LIMITS, RateLimiters } from '../../../agent/src/l7/rate-limit.ts';
import { TokenBucket } from '../../../agent/src/l7/token-bucket.ts';
import type { RateLimitTable } from '../../../agent/src/tables/rate-limits.ts';

function table(over: Partial<RateLimitTable> = {}): RateLimitTable {
  return {
    policy: 'shop/limit',
    key: JSON.stringify(over),
    total: null,
    identity: null,
    overrides: new Map(),
    overrideRates: [],
    ...over,
  };
}

/** How many of `n` requests evenly spread over `ms` pass. */
function passed(l: Limiter, id: string, n: number, ms: number, start = 0): number {
  let ok = 0;
  for (let i = 0; i < n; i++) if (l.admit(id, start + (i * ms) / n) === 0) ok++;
  return ok;
}

describe('TokenBucket', () => {
  it('starts full, allows a burst of `rate`, then refills at `rate` a second', () => {
    const b = new TokenBucket(10, 0);
    let burst = 0;
    while (b.has(0)) {
      b.take();
      burst++;
    }
    expect(burst).toBe(10);
    expect(b.wait(0)).toBe(100);
    expect(b.has(50)).toBe(false);
    expect(b.has(100)).toBe(true);
    expect(b.full(5000)).toBe(true);
  });
});

describe('Limiter', () => {
  it('holds each identity to its own rate, after the first second`s burst', () => {
    const l = new Limiter(table({ identity: 10 }), 0);
    // 100 requests a second for 10 s from each of two clients.
    expect(passed(l, 'spiffe://td/ns/a/sa/x', 1000, 10_000)).toBe(10 + 99);
    expect(passed(l, 'spiffe://td/ns/a/sa/y', 1000, 10_000)).toBe(10 + 99);
    expect(l.limited).toBe(2 * (1000 - 109));
  });

  it('gives an overridden ServiceAccount its rate, shared by the clients it names', () => {
    const id = 'spiffe://td/ns/a/sa/fast';
    const l = new Limiter(
      table({ identity: 10, overrides: new Map([[id, 0]]), overrideRates: [40] }),
      0,
    );
    expect(passed(l, id, 1000, 10_000)).toBe(40 + 399);
    expect(passed(l, 'spiffe://td/ns/a/sa/slow', 1000, 10_000)).toBe(10 + 99);
  });

  it('holds all clients together to total, taking no token when one bucket refuses', () => {
    const l = new Limiter(table({ total: 20, identity: 15 }), 0);
    let a = 0;
    let b = 0;
    for (let i = 0; i < 1000; i++) {
      const t = (i * 10_000) / 1000;
      if (l.admit('a', t) === 0) a++;
      if (l.admit('b', t) === 0) b++;
    }
    // 20 a second in all (a burst of 20); each client under its own 15.
    expect(a + b).toBe(20 + 199);
    expect(a).toBeLessThanOrEqual(15 + 149);
  });

  it('says how long until a token', () => {
    const l = new Limiter(table({ identity: 2 }), 0);
    expect(l.admit('', 0)).toBe(0);
    expect(l.admit('', 0)).toBe(0);
    expect(l.admit('', 0)).toBe(500);
  });

  it('keeps at most identitiesPerLimiter per-identity buckets', () => {
    const l = new Limiter(table({ identity: 1 }), 0);
    for (let i = 0; i < RATE_LIMIT_LIMITS.identitiesPerLimiter + 100; i++) l.admit(`id-${i}`, i);
    expect(l.identityBuckets()).toBeLessThanOrEqual(RATE_LIMIT_LIMITS.identitiesPerLimiter);
  });
});

describe('RateLimiters', () => {
  it('keeps a workload`s buckets while the limits stay, and counts per policy', () => {
    const r = new RateLimiters();
    const t1 = table({ identity: 1 });
    const l = r.for('shop/web-0', t1, 0);
    expect(l.admit('x', 0)).toBe(0);
    expect(r.for('shop/web-0', { ...t1 }, 10)).toBe(l);
    expect(r.for('shop/web-0', { ...t1 }, 10).admit('x', 10)).toBeGreaterThan(0);
    expect(r.for('shop/web-1', t1, 10)).not.toBe(l);
    expect(r.for('shop/web-0', table({ identity: 2 }), 10)).not.toBe(l);
    expect(r.counts().get('shop/limit')).toEqual({ allowed: 1, limited: 1 });
  });
});
