import { describe, expect, it } from 'vitest';
import { compileServices, vipKey } from '../../../agent/src/compile/services.ts';
import type { Service } from '../../../agent/src/state/types.ts';
import { pod, snapshot } from './fixtures.ts';

const svc = (over: Partial<Service> = {}): Service => ({
  namespace: 'shop',
  name: 'cart',
  selector: { app: 'cart' },
  ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }],
  clusterIP: '10.96.0.10',
  ...over,
});

describe('service endpoints', () => {
  it('maps a ClusterIP port to the selected pods with IPs', () => {
    const t = compileServices(
      snapshot({
        services: [svc()],
        pods: [
          pod('shop', 'cart-b', { labels: { app: 'cart' }, podIP: '10.244.2.2' }),
          pod('shop', 'cart-a', { labels: { app: 'cart' }, podIP: '10.244.1.2' }),
          pod('shop', 'cart-c', { labels: { app: 'cart' }, podIP: undefined }),
          pod('shop', 'web', { labels: { app: 'web' } }),
          pod('other', 'cart', { labels: { app: 'cart' } }),
        ],
      }),
    );
    expect(t.get(vipKey('10.96.0.10', 80))).toEqual({
      service: 'shop/cart',
      endpoints: [
        { ip: '10.244.1.2', port: 8080, pod: 'shop/cart-a' },
        { ip: '10.244.2.2', port: 8080, pod: 'shop/cart-b' },
      ],
    });
  });

  it('resolves a named targetPort per pod and skips pods without it', () => {
    const t = compileServices(
      snapshot({
        services: [svc({ ports: [{ port: 80, targetPort: 'http', protocol: 'TCP' }] })],
        pods: [
          pod('shop', 'a', {
            labels: { app: 'cart' },
            ports: [{ name: 'http', containerPort: 9000, protocol: 'TCP' }],
          }),
          pod('shop', 'b', { labels: { app: 'cart' } }),
        ],
      }),
    );
    expect(t.get('10.96.0.10:80')?.endpoints).toEqual([
      { ip: '10.0.0.1', port: 9000, pod: 'shop/a' },
    ]);
  });

  it('skips services without a ClusterIP, UDP ports, and selects nothing without a selector', () => {
    const t = compileServices(
      snapshot({
        services: [
          svc({ name: 'headless', clusterIP: undefined }),
          svc({
            name: 'dns',
            clusterIP: '10.96.0.11',
            ports: [{ port: 53, targetPort: 53, protocol: 'UDP' }],
          }),
          svc({ name: 'manual', clusterIP: '10.96.0.12', selector: {} }),
        ],
        pods: [pod('shop', 'a', { labels: { app: 'cart' } })],
      }),
    );
    expect([...t.keys()]).toEqual(['10.96.0.12:80']);
    expect(t.get('10.96.0.12:80')?.endpoints).toEqual([]);
  });
});
