import { describe, expect, it } from 'vitest';
import { benchConfig } from '../../../bench/config.ts';

describe('bench settings', () => {
  it('has defaults for a full run', () => {
    expect(benchConfig({})).toEqual({
      rounds: 3,
      bulkMs: 3000,
      pings: 20000,
      connectMs: 2000,
      httpSeconds: 5,
      httpConnections: 8,
      only: null,
      profile: null,
      quick: false,
    });
  });

  it('BENCH_QUICK=1 measures the main rows once, briefly; an explicit knob still wins', () => {
    const q = benchConfig({ BENCH_QUICK: '1', WEFT_BENCH_HTTP_SECONDS: '3' });
    expect(q).toMatchObject({ quick: true, rounds: 1, bulkMs: 1000, httpSeconds: 3 });
    expect(q.only).toEqual(['direct', 'l4', 'mtls', 'l7', 'nginx']);
    expect(benchConfig({ BENCH_QUICK: '1', WEFT_BENCH_ONLY: 'l7' }).only).toEqual(['direct', 'l7']);
    expect(benchConfig({ BENCH_QUICK: '0' }).quick).toBe(false);
    expect(() => benchConfig({ BENCH_QUICK: 'yes' })).toThrow('BENCH_QUICK=yes');
  });

  it('profiles the agents into the directory asked for', () => {
    expect(benchConfig({ WEFT_BENCH_PROFILE: ' /tmp/p ' }).profile).toBe('/tmp/p');
    expect(benchConfig({ WEFT_BENCH_PROFILE: '' }).profile).toBeNull();
  });

  it('reads the knobs', () => {
    const c = benchConfig({ WEFT_BENCH_ROUNDS: '1', WEFT_BENCH_HTTP_SECONDS: '2' });
    expect(c.rounds).toBe(1);
    expect(c.httpSeconds).toBe(2);
  });

  it('names the variable of a bad value', () => {
    expect(() => benchConfig({ WEFT_BENCH_PINGS: '1e4' })).toThrow(
      'WEFT_BENCH_PINGS=1e4: expected a whole number ≥ 1',
    );
    expect(() => benchConfig({ WEFT_BENCH_ROUNDS: '0' })).toThrow(/WEFT_BENCH_ROUNDS=0/);
  });

  it('measures the rows asked for, always with direct to compare with', () => {
    expect(benchConfig({ WEFT_BENCH_ONLY: 'mtls, l7' }).only).toEqual(['direct', 'mtls', 'l7']);
    expect(() => benchConfig({ WEFT_BENCH_ONLY: 'mtls,envoy' })).toThrow(
      "WEFT_BENCH_ONLY: unknown row 'envoy'",
    );
  });
});
