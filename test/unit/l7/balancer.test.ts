import { describe, expect, it } from 'vitest';
import { OUTLIER_DEFAULTS } from '../../../agent/src/compile/index.ts';
import { pick } from '../../../agent/src/l7/balancer.ts';
import { admit } from '../../../agent/src/l7/breaker.ts';
import { Pools } from '../../../agent/src/l7/endpoint-pools.ts';
import {
  finished,
  latencyFor,
  Outcome,
  outcomeOf,
  started,
} from '../../../agent/src/l7/outlier.ts';
import type { Endpoint } from '../../../agent/src/state/index.ts';
import type { CompiledTrafficPolicy } from '../../../agent/src/tables/index.ts';

const eps: Endpoint[] = [1, 2, 3].map((i) => ({ ip: `10.0.0.${i}`, port: 80, pod: `shop/p${i}` }));

/** A seeded generator, so the draws are the same every run. */
function seeded(seed = 1): () => number {
  let x = seed;
  return () => {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

function rig(policy?: Partial<CompiledTrafficPolicy>) {
  let t = 1_000;
  const pools = new Pools(() => t, seeded());
  const p = policy
    ? { from: 'DestinationRule shop/echo', lb: 'EWMA' as const, ...policy }
    : undefined;
  const pool = pools.get('shop/echo:80', p);
  return {
    pools,
    pool,
    tick: (ms: number) => {
      t += ms;
    },
    now: () => t,
    /** One request: picked, then finished after `ms` with `status`. */
    send(latency: (ep: Endpoint) => number, status: (ep: Endpoint) => number = () => 200) {
      const ep = pick(pool, eps, t, pools.random)!;
      const s = started(pool, ep);
      t += latency(ep);
      finished(pool, s, outcomeOf(status(ep), ''), latency(ep), t);
      return ep;
    },
  };
}

const share = (picked: Endpoint[], ip: string) =>
  picked.filter((e) => e.ip === ip).length / picked.length;

describe('balancer', () => {
  it('goes round the endpoints with ROUND_ROBIN', () => {
    const r = rig({ lb: 'ROUND_ROBIN' });
    expect([1, 2, 3, 4].map(() => pick(r.pool, eps, r.now(), r.pools.random)!.ip)).toEqual([
      '10.0.0.1',
      '10.0.0.2',
      '10.0.0.3',
      '10.0.0.1',
    ]);
    expect(pick(r.pool, [], r.now(), r.pools.random)).toBeUndefined();
  });

  it('sends the default (EWMA) mostly to the faster endpoints', () => {
    const r = rig();
    const picked = Array.from({ length: 300 }, () =>
      r.send((ep) => (ep.ip === '10.0.0.3' ? 100 : 2)),
    );
    expect(share(picked, '10.0.0.3')).toBeLessThan(0.05);
  });

  it('tries an endpoint again once its latency estimate has decayed', () => {
    const r = rig();
    for (let i = 0; i < 50; i++) r.send((ep) => (ep.ip === '10.0.0.3' ? 100 : 2));
    r.tick(120_000);
    // The fast ones keep their fresh estimates; the slow one's has decayed below them.
    const picked = Array.from({ length: 30 }, () => r.send(() => 2));
    expect(picked.some((e) => e.ip === '10.0.0.3')).toBe(true);
  });

  it('keeps the default (EWMA) off an endpoint that refuses at once', () => {
    const r = rig();
    const picked = Array.from({ length: 300 }, () => {
      const ep = pick(r.pool, eps, r.now(), r.pools.random)!;
      const s = started(r.pool, ep);
      // Refused in 50 µs, against 2 ms answers from the others.
      const dead = ep.ip === '10.0.0.3';
      const ms = dead ? 0.05 : 2;
      r.tick(ms);
      const flag = dead ? 'upstream_reset' : '';
      finished(r.pool, s, outcomeOf(dead ? 503 : 200, flag), latencyFor(ms, flag), r.now());
      return ep;
    });
    expect(share(picked, '10.0.0.3')).toBeLessThan(0.05);
  });

  it('sends LEAST_REQUEST to the endpoints with fewer outstanding', () => {
    const r = rig({ lb: 'LEAST_REQUEST' });
    // Endpoint 1 holds 5 requests that never end.
    for (let i = 0; i < 5; i++) started(r.pool, eps[0]!);
    const picked = Array.from({ length: 100 }, () => r.send(() => 1));
    expect(share(picked, '10.0.0.1')).toBe(0);
  });

  it('spreads RANDOM over all endpoints', () => {
    const r = rig({ lb: 'RANDOM' });
    const picked = Array.from({ length: 900 }, () => r.send(() => 1));
    for (const e of eps) expect(share(picked, e.ip)).toBeGreaterThan(0.25);
  });

  it('picks without allocating', () => {
    const r = rig();
    for (const e of eps) finished(r.pool, started(r.pool, e), Outcome.Success, 1, r.now());
    for (let i = 0; i < 10_000; i++) pick(r.pool, eps, r.now(), r.pools.random);
    const before = process.memoryUsage().heapUsed;
    let n = 0;
    for (let i = 0; i < 1_000_000; i++) if (pick(r.pool, eps, r.now(), r.pools.random)) n++;
    expect(n).toBe(1_000_000);
    // A million picks that allocated even 16 bytes each would be 16 MB.
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(4_000_000);
  });
});

describe('outlier ejection', () => {
  const od = { ...OUTLIER_DEFAULTS, consecutive5xxErrors: 3, baseEjectionMs: 1000 };

  it('counts statuses and flags as Envoy does', () => {
    expect(outcomeOf(200, '')).toBe(Outcome.Success);
    expect(outcomeOf(404, '')).toBe(Outcome.Success);
    expect(outcomeOf(500, '')).toBe(Outcome.ServerError);
    expect(outcomeOf(503, '')).toBe(Outcome.GatewayError);
    expect(outcomeOf(502, 'upstream_reset')).toBe(Outcome.GatewayError);
    expect(outcomeOf(504, 'timeout')).toBe(Outcome.GatewayError);
    expect(outcomeOf(503, 'overflow')).toBe(Outcome.None);
    expect(outcomeOf(499, 'downstream_reset')).toBe(Outcome.None);
  });

  it('ejects after consecutive 5xx for base × times ejected, and takes it back', () => {
    const r = rig({ outlier: od, lb: 'ROUND_ROBIN' });
    const bad = (ep: Endpoint) => (ep.ip === '10.0.0.2' ? 500 : 200);
    for (let i = 0; i < 9; i++) r.send(() => 1, bad);
    const s = r.pool.endpoints.get('10.0.0.2')!;
    expect(s.timesEjected).toBe(1);
    expect(s.ejectedUntil - r.now()).toBeGreaterThan(990);
    // While ejected, it gets nothing.
    const during = Array.from({ length: 30 }, () => r.send(() => 1, bad));
    expect(during.some((e) => e.ip === '10.0.0.2')).toBe(false);
    r.tick(1000);
    const after = Array.from({ length: 3 }, () => r.send(() => 1));
    expect(after.some((e) => e.ip === '10.0.0.2')).toBe(true);
    // Failing again: ejected for twice as long.
    for (let i = 0; i < 9; i++) r.send(() => 1, bad);
    expect(s.timesEjected).toBe(2);
    expect(s.ejectedUntil - r.now()).toBeGreaterThan(1900);
  });

  it('a success resets the count', () => {
    const r = rig({ outlier: od });
    const s = started(r.pool, eps[0]!);
    finished(r.pool, s, Outcome.ServerError, 1, r.now());
    finished(r.pool, started(r.pool, eps[0]!), Outcome.ServerError, 1, r.now());
    finished(r.pool, started(r.pool, eps[0]!), Outcome.Success, 1, r.now());
    finished(r.pool, started(r.pool, eps[0]!), Outcome.ServerError, 1, r.now());
    expect(s.ejectedUntil).toBe(0);
  });

  it('never ejects beyond maxEjectionPercent (one always may go) nor the last endpoint in', () => {
    const r = rig({ outlier: { ...od, maxEjectionPercent: 10 } });
    const fail = (ep: Endpoint) => {
      for (let i = 0; i < 3; i++)
        finished(r.pool, started(r.pool, ep), Outcome.ServerError, 1, r.now());
    };
    eps.forEach(fail);
    const out = eps.filter((e) => r.pool.ejected(e, r.now()));
    expect(out).toHaveLength(1);
    const all = rig({ outlier: { ...od, maxEjectionPercent: 100 } });
    for (const ep of eps)
      for (let i = 0; i < 3; i++)
        finished(all.pool, started(all.pool, ep), Outcome.ServerError, 1, all.now());
    expect(eps.filter((e) => all.pool.ejected(e, all.now()))).toHaveLength(2);
  });

  it('does nothing without outlierDetection', () => {
    const r = rig();
    for (let i = 0; i < 20; i++)
      finished(r.pool, started(r.pool, eps[0]!), Outcome.ServerError, 1, r.now());
    expect(r.pool.ejected(eps[0]!, r.now())).toBe(false);
  });

  it('caps an ejection at 300 s and wins back a step per interval in the pool', () => {
    const r = rig({ outlier: { ...od, baseEjectionMs: 200_000, intervalMs: 10_000 } });
    for (const e of eps) r.pool.state(e);
    const s = r.pool.state(eps[0]!);
    const fail = () => {
      for (let i = 0; i < 3; i++)
        finished(r.pool, started(r.pool, eps[0]!), Outcome.ServerError, 1, r.now());
    };
    fail();
    expect(s.ejectedUntil - r.now()).toBe(200_000);
    r.tick(200_000);
    expect(r.pool.ejected(eps[0]!, r.now())).toBe(false);
    fail();
    expect(s.ejectedUntil - r.now()).toBe(300_000);
    r.tick(300_000 + 20_000);
    expect(r.pool.ejected(eps[0]!, r.now())).toBe(false);
    fail();
    // Two intervals in the pool took it from 2 to 0 before this third ejection.
    expect(s.timesEjected).toBe(1);
  });
});

describe('circuit breaking', () => {
  it('admits maxConnections + http1MaxPendingRequests, http2MaxRequests, and counts overflows', () => {
    const r = rig({ maxConnections: 1, http1MaxPendingRequests: 1 });
    started(r.pool, eps[0]!);
    expect(admit(r.pool, false)).toBe(true);
    started(r.pool, eps[0]!);
    expect(admit(r.pool, false)).toBe(false);
    expect(admit(r.pool, true)).toBe(true);
    expect(r.pool.overflows).toBe(1);
    const h2 = rig({ http2MaxRequests: 1 });
    started(h2.pool, eps[0]!);
    expect(admit(h2.pool, true)).toBe(false);
    expect(admit(rig().pool, false)).toBe(true);
  });
});

describe('trafficDistribution: PreferClose', () => {
  it('keeps to the near endpoints while one is in the pool, else uses all', () => {
    const r = rig({
      outlier: { ...OUTLIER_DEFAULTS, consecutive5xxErrors: 1, baseEjectionMs: 1000 },
    });
    for (const e of eps) r.pool.state(e);
    const near = (e: Endpoint) => e.ip === '10.0.0.2';
    const picks = Array.from(
      { length: 50 },
      () => pick(r.pool, eps, r.now(), r.pools.random, near)!.ip,
    );
    expect(new Set(picks)).toEqual(new Set(['10.0.0.2']));
    finished(r.pool, started(r.pool, eps[1]!), Outcome.ServerError, 1, r.now());
    const after = Array.from(
      { length: 50 },
      () => pick(r.pool, eps, r.now(), r.pools.random, near)!.ip,
    );
    expect(after).not.toContain('10.0.0.2');
    expect(new Set(after).size).toBe(2);
  });
});
