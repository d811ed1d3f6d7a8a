// Per-request choices that must hold their proportions on one connection: a
// weighted backend, a mirror percentage. A Weyl sequence (n·φ mod 1) spreads
// any prefix of the requests evenly over [0,1): 500 requests land within a
// request or two of their weights, without randomness to make a test flaky
// or a burst to make a canary's share lumpy.
import type { CompiledBackend, CompiledRule } from '../tables/index.ts';

const PHI = 0.6180339887498949;

export class Spread {
  private readonly at = new WeakMap<object, number>();

  /** The next point in [0,1) for `key`'s sequence. */
  next(key: object): number {
    const x = ((this.at.get(key) ?? 0) + PHI) % 1;
    this.at.set(key, x);
    return x;
  }

  /** A backend of the rule, by its weight; undefined when the rule has none with weight (500). */
  backend(rule: CompiledRule): CompiledBackend | undefined {
    if (rule.totalWeight <= 0) return undefined;
    const b = rule.backends;
    if (b.length === 1) return b[0];
    let point = this.next(rule) * rule.totalWeight;
    for (let i = 0; i < b.length; i++) {
      point -= b[i]!.weight;
      if (point < 0) return b[i];
    }
    return b[b.length - 1];
  }

  /** Whether this request is among `percent` % of `key`'s. */
  take(key: object, percent: number): boolean {
    if (percent >= 100) return true;
    return this.next(key) * 100 < percent;
  }
}
