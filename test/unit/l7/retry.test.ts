// Retries: the budget (20% of requests plus 10 a second over a 10 s window, and a
// concurrent cap), the backoff, which failures a policy retries, the kept body,
// and the balancer avoiding the endpoint that failed.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { type Decision, pickAgain } from '../../../agent/src/l7/decide.ts';
import { Pools } from '../../../agent/src/l7/endpoint-pools.ts';
import {
  backoffMs,
  maxRetriesFor,
  newRetryCounts,
  RETRY_LIMITS,
  RetryBody,
  RetryState,
  wantsRetry,
} from '../../../agent/src/l7/retry.ts';
import { RETRY_BUDGET, RetryBudget, RetryBudgets } from '../../../agent/src/l7/retry-budget.ts';
import type { L7Source, L7View } from '../../../agent/src/l7/source.ts';
import { emptyRoutes } from '../../../agent/src/tables/routes.ts';

describe('RetryBudget', () => {
  it('allows 10 a second of the window with no traffic, then 20% of the requests on top', () => {
    const b = new RetryBudget();
    const t = 1_000_000;
    expect(b.allowed(t)).toBe(100);
    for (let i = 0; i < 1000; i++) b.deposit(t);
    expect(b.allowed(t)).toBe(300);
    let ok = 0;
    for (let i = 0; i < 400; i++) {
      if (b.withdraw(t, Number.POSITIVE_INFINITY) === 'ok') ok++;
      b.release();
    }
    expect(ok).toBe(300);
    expect(b.used(t)).toBe(300);
    expect(b.exhausted).toBe(100);
  });

  it('forgets what fell out of the 10 s window', () => {
    const b = new RetryBudget();
    const t = 5_000_000;
    for (let i = 0; i < 500; i++) b.deposit(t);
    for (let i = 0; i < 200; i++) b.withdraw(t, 1e9);
    expect(b.used(t + 9_000)).toBe(200);
    expect(b.used(t + 10_000)).toBe(0);
    expect(b.allowed(t + 10_000)).toBe(100);
    // A long silence clears every bucket at once.
    b.deposit(t + 60_000);
    expect(b.allowed(t + 60_000)).toBe(100);
  });

  it('caps the retries outstanding at once', () => {
    const b = new RetryBudget();
    expect(b.withdraw(0, 2)).toBe('ok');
    expect(b.withdraw(0, 2)).toBe('ok');
    expect(b.withdraw(0, 2)).toBe('overflow');
    b.release();
    expect(b.withdraw(0, 2)).toBe('ok');
    expect(b.overflow).toBe(1);
  });

  it('keeps budgets per client and Service port, bounded', () => {
    const bs = new RetryBudgets(3);
    const a = bs.get('ns/a', 'ns/s:80');
    expect(bs.get('ns/a', 'ns/s:80')).toBe(a);
    expect(bs.get('ns/b', 'ns/s:80')).not.toBe(a);
    bs.get('ns/c', 'ns/s:80');
    bs.get('ns/d', 'ns/s:80');
    expect([...bs.entries()].length).toBeLessThanOrEqual(3);
  });
});

describe('wantsRetry', () => {
  const policy = { codes: [503], attempts: 2 };
  it('retries the listed statuses up to attempts, failures before an answer once without a policy', () => {
    expect(wantsRetry(policy, 0, 503)).toBe(true);
    expect(wantsRetry(policy, 1, 503)).toBe(true);
    expect(wantsRetry(policy, 2, 503)).toBe(false);
    expect(wantsRetry(policy, 0, 500)).toBe(false);
    expect(wantsRetry(undefined, 0, 503)).toBe(false);
    expect(wantsRetry(undefined, 0, undefined)).toBe(true);
    expect(wantsRetry(undefined, 1, undefined)).toBe(false);
    expect(wantsRetry(policy, 1, undefined)).toBe(true);
    expect(wantsRetry({ codes: [503], attempts: 0 }, 0, undefined)).toBe(false);
  });
});

describe('backoffMs', () => {
  it('doubles from the route backoff (25 ms by default), capped at 10×, jitter on top', () => {
    expect(backoffMs(undefined, 1, 0)).toBe(25);
    expect(backoffMs({ codes: [], attempts: 3, backoff: 100 }, 1, 0)).toBe(100);
    expect(backoffMs({ codes: [], attempts: 3, backoff: 100 }, 2, 0.5)).toBe(300);
    expect(backoffMs({ codes: [], attempts: 9, backoff: 100 }, 8, 0)).toBe(1000);
    expect(backoffMs({ codes: [], attempts: 9, backoff: 100 }, 8, 0.999)).toBeLessThan(2000);
  });
});

describe('RetryState', () => {
  it('takes a retry from the budget, says why when it cannot', () => {
    const counts = newRetryCounts();
    const b = new RetryBudget(0.2, 0, 10);
    const s = new RetryState({ codes: [503], attempts: 3 }, undefined);
    expect(s.decide(503, b, 10, 0, counts)).toBe('retry_budget_exhausted');
    for (let i = 0; i < 10; i++) b.deposit(0);
    expect(s.decide(503, b, 10, 0, counts)).toBe('retry');
    expect(b.outstanding).toBe(1);
    expect(s.decide(500, b, 10, 0, counts)).toBe('no');
    s.release();
    expect(b.outstanding).toBe(0);
    expect(counts).toEqual({ retried: 1, budget_exhausted: 1, overflow: 0, body_too_large: 0 });
    // Taken and not made (no endpoint to send it to): given back whole.
    expect(s.decide(503, b, 10, 0, counts)).toBe('retry');
    expect(b.used(0)).toBe(2);
    s.undo(counts, 0);
    expect(b.used(0)).toBe(1);
    expect(b.outstanding).toBe(0);
    expect(s.retries).toBe(1);
    expect(counts.retried).toBe(1);
  });

  it('does not retry a body that outgrew the buffer', () => {
    const body = new RetryBody();
    body.push(Buffer.alloc(RETRY_LIMITS.bodyBytes + 1));
    const s = new RetryState({ codes: [503], attempts: 1 }, body);
    const counts = newRetryCounts();
    expect(s.decide(503, new RetryBudget(), 10, 0, counts)).toBe('retry_body_too_large');
    expect(counts.body_too_large).toBe(1);
  });
});

describe('RetryBody', () => {
  it('gives a new attempt what was sent so far, then the rest', async () => {
    const body = new RetryBody();
    const first = new PassThrough();
    body.attach(first);
    body.push(Buffer.from('ab'));
    const second = new PassThrough();
    body.attach(second);
    body.push(Buffer.from('cd'));
    body.end();
    const read = async (s: PassThrough) => {
      let out = '';
      for await (const c of s) out += c;
      return out;
    };
    expect(await read(second)).toBe('abcd');
    first.end();
    expect(await read(first)).toBe('ab');
  });
});

describe('pickAgain', () => {
  it('avoids the endpoint that failed when another remains', () => {
    const eps = [
      { ip: '10.0.0.1', port: 80, pod: 'ns/a' },
      { ip: '10.0.0.2', port: 80, pod: 'ns/b' },
    ];
    // Every draw lands on the first endpoint: only the exclusion moves the pick.
    const pools = new Pools(
      () => 1,
      () => 0,
    );
    const pool = pools.get('shop/cart:80', undefined);
    const src = { vip: '10.96.0.1:80', allowed: (_v: unknown, _k: string, t: unknown) => t };
    const at = (endpoints: typeof eps) =>
      ({
        routes: emptyRoutes,
        services: new Map([['10.96.0.1:80', { service: 'shop/cart', endpoints }]]),
      }) as unknown as L7View;
    const d = { key: '10.96.0.1:80', pool, backend: undefined } as unknown as Decision;
    const s = src as unknown as L7Source;
    for (let i = 0; i < 4; i++)
      expect(pickAgain(pools, s, at(eps), d, { ...eps[0]! })).toBe(eps[1]);
    expect(pickAgain(pools, s, at([eps[0]!]), d, eps[0])).toBe(eps[0]);
  });
});

describe('maxRetriesFor', () => {
  it("takes the Service port's DestinationRule maxRetries, else the default", () => {
    const src = { port: 80 } as L7Source;
    const d = (backend: boolean) =>
      ({
        key: backend ? 'shop/cart:80' : '10.96.0.1:80',
        service: 'shop/cart',
        backend: backend ? {} : undefined,
      }) as Decision;
    const view = (tp?: Map<string, { from: string; lb: 'EWMA'; maxRetries?: number }>) =>
      ({
        routes: { ...emptyRoutes, ...(tp ? { trafficPolicies: tp } : {}) },
        services: new Map(),
      }) as L7View;
    expect(maxRetriesFor(view(), src, d(true))).toBe(RETRY_BUDGET.maxConcurrent);
    const tp = new Map([
      ['shop/cart:80', { from: 'DestinationRule shop/cart', lb: 'EWMA' as const, maxRetries: 2 }],
    ]);
    expect(maxRetriesFor(view(tp), src, d(true))).toBe(2);
    // Without a rule the VIP's Service port names the policy.
    expect(maxRetriesFor(view(tp), src, d(false))).toBe(2);
    expect(
      maxRetriesFor(
        view(new Map([['shop/other:80', { from: 'x', lb: 'EWMA' as const }]])),
        src,
        d(true),
      ),
    ).toBe(RETRY_BUDGET.maxConcurrent);
  });
});
