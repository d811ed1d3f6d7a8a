// A connection handler's exception costs that connection only: counted,
// aborted, reported (throttled), never thrown on to end the agent.
import { describe, expect, it } from 'vitest';
import { contain, throttledReport } from '../../../agent/src/proxy/contain.ts';
import { DirectionStats } from '../../../agent/src/telemetry/stats.ts';

describe('contain', () => {
  it('runs a handler that works as it is', () => {
    const stats = new DirectionStats();
    const seen: string[] = [];
    contain(
      stats,
      () => seen.push('report'),
      () => seen.push('abort'),
      () => seen.push('handled'),
    );
    expect(seen).toEqual(['handled']);
    expect(stats.errors).toBe(0);
  });

  it('aborts the connection, counts and reports a handler that throws', () => {
    const stats = new DirectionStats();
    const seen: unknown[] = [];
    const boom = new Error('tables lookup failed');
    expect(() =>
      contain(
        stats,
        (e) => seen.push(e),
        () => seen.push('abort'),
        () => {
          throw boom;
        },
      ),
    ).not.toThrow();
    expect(seen).toEqual(['abort', boom]);
    expect(stats.errors).toBe(1);
  });

  it('still reports when the abort itself fails (the socket already gone)', () => {
    const stats = new DirectionStats();
    const seen: unknown[] = [];
    contain(
      stats,
      (e) => seen.push((e as Error).message),
      () => {
        throw new Error('destroyed');
      },
      () => {
        throw new Error('first');
      },
    );
    expect(seen).toEqual(['first']);
  });
});

describe('throttledReport', () => {
  it('writes one line per interval with the stack, and counts what it held back', async () => {
    const lines: string[] = [];
    const report = throttledReport((l) => lines.push(l), 50);
    report(new Error('one'));
    report(new Error('two'));
    report('three');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^proxy: a connection handler failed; the connection was aborted: Error: one\n {4}at /,
    );
    await new Promise((r) => setTimeout(r, 60));
    report('four');
    expect(lines[1]).toBe(
      'proxy: a connection handler failed; the connection was aborted (2 more since the last report): four',
    );
  });
});
