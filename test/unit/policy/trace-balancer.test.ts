import { describe, expect, it } from 'vitest';
import { balancerStage } from '../../../agent/src/policy/trace-balancer.ts';
import type { ClusterObjects, DestinationRule } from '../../../agent/src/state/index.ts';

const rule: DestinationRule = {
  namespace: 'shop',
  name: 'cart',
  host: 'cart',
  service: 'shop/cart',
  created: 0,
  settings: {
    lb: 'LEAST_REQUEST',
    pool: { maxConnections: 1, http1MaxPendingRequests: 1, connectTimeoutMs: 500 },
    outlier: { consecutive5xxErrors: 2 },
  },
  ports: [{ port: 9090, settings: { lb: 'RANDOM' } }],
};
const cluster = (drs: DestinationRule[]): ClusterObjects => ({
  namespaces: new Map(),
  pods: new Map(),
  services: new Map(),
  destinationRules: new Map(drs.map((d) => [`${d.namespace}/${d.name}`, d])),
});

describe('balancerStage', () => {
  it('names the DestinationRule, the balancer, the limits and outlier detection', () => {
    const s = balancerStage(cluster([rule]), 'shop/cart', 80);
    expect(s.object).toBe('DestinationRule shop/cart');
    expect(s.reason).toBe(
      'LEAST_REQUEST (power of two choices over outstanding); limits maxConnections 1, http1MaxPendingRequests 1, connectTimeout 500 ms (beyond: 503 overflow); outlier detection: eject after 2 consecutive 5xx / off gateway errors for 30000 ms × times ejected, at most 10% of endpoints',
    );
    const port = balancerStage(cluster([rule]), 'shop/cart', 9090);
    expect(port.object).toBe('DestinationRule shop/cart port 9090');
    expect(port.reason).toMatch(/^RANDOM; limits maxConnections 1/);
  });

  it('says the defaults without one', () => {
    expect(balancerStage(cluster([]), 'shop/cart', 80).reason).toMatch(
      /^no DestinationRule: EWMA .*no outlier detection$/,
    );
  });
});
