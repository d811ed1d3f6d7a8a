// HTTPLocalRateLimitPolicy into the destination's decision tables: the ports its
// Service sends to are read as HTTP and carry the limit; others stay at layer 4.
import { describe, expect, it } from 'vitest';
import { compileNode } from '../../../agent/src/compile/node.ts';
import type { HttpLocalRateLimitPolicy } from '../../../agent/src/state/rate-limit-types.ts';
import { pod, snapshot } from './fixtures.ts';

const settings = { node: 'n1', trustDomain: 'cluster.local', rootNamespace: 'weft-system' };

describe('compileRateLimits', () => {
  it('puts the limit on each pod port the Service targets (named ports too)', () => {
    const limit: HttpLocalRateLimitPolicy = {
      namespace: 'shop',
      name: 'web-limit',
      targetRef: { kind: 'Service', name: 'web' },
      identity: 10,
      overrides: [{ requestsPerSecond: 40, clientRefs: [{ namespace: 'shop', name: 'fast' }] }],
    };
    const snap = {
      ...snapshot({
        namespaces: [{ name: 'shop', labels: { 'weft.dev/mesh': 'enabled' } }],
        pods: [
          pod('shop', 'web-0', {
            labels: { app: 'web' },
            ports: [
              { name: 'http', containerPort: 8080, protocol: 'TCP' },
              { name: 'raw', containerPort: 9000, protocol: 'TCP' },
            ],
          }),
          pod('shop', 'db-0', { labels: { app: 'db' }, podIP: '10.0.0.2' }),
        ],
        services: [
          {
            namespace: 'shop',
            name: 'web',
            selector: { app: 'web' },
            ports: [{ port: 80, targetPort: 'http', protocol: 'TCP' }],
          },
        ],
      }),
      rateLimits: new Map([['shop/web-limit', limit]]),
    };
    const d = compileNode(snap, settings).decisions.ingress;
    const web = d.get('shop/web-0')!;
    const p = web.ports.get(8080)!;
    expect(p.http).toBe(true);
    expect(p.rateLimit).toMatchObject({ policy: 'shop/web-limit', identity: 10, total: null });
    expect(p.rateLimit!.overrides.get('spiffe://cluster.local/ns/shop/sa/fast')).toBe(0);
    expect(p.rateLimit!.overrideRates).toEqual([40]);
    expect(web.ports.get(9000)?.rateLimit ?? null).toBeNull();
    expect(web.otherPorts).toEqual({ http: false, authz: null, rateLimit: null });
    expect(d.get('shop/db-0')!.ports.size).toBe(0);
  });
});
