// Per-request weights: any run of requests lands within a request or two of
// the backends' weights (no randomness to make a canary's share lumpy), a
// rule without weight has no backend (500), percentages hold.
import { describe, expect, it } from 'vitest';
import { Spread } from '../../../agent/src/l7/spread.ts';
import { rule } from '../../support/routes.ts';

const ep = (n: number) => [{ ip: `10.0.0.${n}`, port: 80, pod: `ns/p${n}` }];

describe('spread and balancer', () => {
  it('splits every prefix of the requests by weight', () => {
    const r = rule({
      backends: [
        { service: 'ns/a', weight: 90, endpoints: ep(1) },
        { service: 'ns/b', weight: 9, endpoints: ep(2) },
        { service: 'ns/c', weight: 1, endpoints: ep(3) },
      ],
    });
    const s = new Spread();
    const n: Record<string, number> = {};
    for (let i = 1; i <= 1000; i++) {
      const b = s.backend(r)!.service;
      n[b] = (n[b] ?? 0) + 1;
      if (i % 100 === 0) {
        expect(Math.abs((n['ns/a'] ?? 0) - 0.9 * i)).toBeLessThanOrEqual(2);
        expect(Math.abs((n['ns/b'] ?? 0) - 0.09 * i)).toBeLessThanOrEqual(2);
        expect(Math.abs((n['ns/c'] ?? 0) - 0.01 * i)).toBeLessThanOrEqual(2);
      }
    }
  });

  it('has no backend for a rule without weight', () => {
    const s = new Spread();
    expect(s.backend(rule({}))).toBeUndefined();
    expect(
      s.backend(rule({ backends: [{ service: 'ns/a', weight: 0, endpoints: ep(1) }] })),
    ).toBeUndefined();
  });

  it('takes a percentage of the requests', () => {
    const s = new Spread();
    const key = {};
    let took = 0;
    for (let i = 0; i < 1000; i++) if (s.take(key, 25)) took++;
    expect(Math.abs(took - 250)).toBeLessThanOrEqual(2);
  });
});
