import { describe, expect, it } from 'vitest';
import { formatBalancers } from '../../../agent/src/telemetry/balancer-status.ts';

describe('formatBalancers', () => {
  it('shows each Service port, its policy and counters, and each endpoint in the pool or ejected', () => {
    const lines = formatBalancers(
      [
        {
          service: 'shop/cart:80',
          lb: 'EWMA',
          from: 'DestinationRule shop/cart',
          inFlight: 2,
          overflows: 7,
          ejections: 1,
          endpoints: [
            {
              ip: '10.0.0.1',
              port: 8080,
              pod: 'shop/cart-1',
              outstanding: 2,
              latencyMs: 3.5,
              requests: 100,
              failures: 0,
              ejectedUntil: null,
              timesEjected: 0,
            },
            {
              ip: '10.0.0.2',
              port: 8080,
              pod: 'shop/cart-2',
              outstanding: 0,
              latencyMs: null,
              requests: 5,
              failures: 5,
              ejectedUntil: '2026-01-01T00:00:30.000Z',
              timesEjected: 1,
            },
          ],
        },
      ],
      ['DestinationRule shop/other is not applied: ...'],
    );
    expect(lines).toEqual([
      '',
      'SERVICE PORT / BALANCER / IN FLIGHT / OVERFLOWS / EJECTIONS',
      '  shop/cart:80  EWMA (DestinationRule shop/cart)  2 in flight  7 overflows  1 ejections',
      '    shop/cart-1 10.0.0.1:8080  in pool  2 outstanding  3.5 ms  100 sent  0 failed',
      '    shop/cart-2 10.0.0.2:8080  ejected until 2026-01-01T00:00:30.000Z  0 outstanding  -  5 sent  5 failed',
      '',
      'DestinationRules not applied:',
      '  DestinationRule shop/other is not applied: ...',
    ]);
    expect(formatBalancers([], [])).toEqual([]);
  });
});
