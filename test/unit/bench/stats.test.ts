import { describe, expect, it } from 'vitest';
import { added, cpuMsPerThousand, median, ratio, roundOrder } from '../../../bench/stats.ts';

describe('bench statistics', () => {
  it('takes the middle of an odd count and the mean of the middle two of an even one', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
  });

  it('does not sort its input in place', () => {
    const xs = [3, 1, 2];
    median(xs);
    expect(xs).toEqual([3, 1, 2]);
  });

  it('has no median when a round failed or there were no rounds', () => {
    expect(median([1, Number.NaN, 3])).toBeNaN();
    expect(median([])).toBeNaN();
  });

  it('compares with direct, and a missing figure stays missing', () => {
    expect(ratio(25, 100)).toBe(0.25);
    expect(ratio(25, 0)).toBeNaN();
    expect(ratio(Number.NaN, 100)).toBeNaN();
    expect(added(170, 100)).toBe(70);
    expect(added(170, Number.NaN)).toBeNaN();
  });

  it('turns a cgroup usage delta into CPU milliseconds per 1,000 operations', () => {
    // 2 s of CPU for 20,000 round trips: 100 ms per 1,000.
    expect(cpuMsPerThousand(2_000_000, 20_000)).toBe(100);
    expect(cpuMsPerThousand(2_000_000, 0)).toBeNaN();
  });

  it('starts each round one row later, so every row is first once in as many rounds', () => {
    const rows = ['a', 'b', 'c'];
    expect(roundOrder(rows, 0)).toEqual(['a', 'b', 'c']);
    expect(roundOrder(rows, 1)).toEqual(['b', 'c', 'a']);
    expect(roundOrder(rows, 2)).toEqual(['c', 'a', 'b']);
    expect(roundOrder(rows, 3)).toEqual(['a', 'b', 'c']);
    expect(roundOrder([], 1)).toEqual([]);
  });
});
