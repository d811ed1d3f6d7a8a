// Dual-stack pods and Services: every compiler sees every address.
import { describe, expect, it } from 'vitest';
import { compileWorkloads } from '../../../agent/src/compile/enrollment.ts';
import { compileEgress } from '../../../agent/src/compile/netpol.ts';
import { compilePeers } from '../../../agent/src/compile/peers.ts';
import { compilePolicy } from '../../../agent/src/compile/policy.ts';
import { compileServices, vipKey } from '../../../agent/src/compile/services.ts';
import { checkEgress, checkIngress } from '../../../agent/src/proxy/authorize.ts';
import { sameFamily } from '../../../agent/src/state/addresses.ts';
import type { Service, Snapshot } from '../../../agent/src/state/types.ts';
import { pod, snapshot } from './fixtures.ts';

const mesh = { name: 'shop', labels: { 'weft.dev/mesh': 'enabled' } };
const db = pod('shop', 'db', {
  labels: { app: 'db' },
  podIP: '10.0.0.7',
  podIPs: ['10.0.0.7', 'fd00::7'],
  ports: [{ name: 'pg', containerPort: 5432, protocol: 'TCP' }],
});
const web = pod('shop', 'web', {
  labels: { app: 'web' },
  podIP: '10.0.0.5',
  podIPs: ['10.0.0.5', 'fd00::5'],
});
const old = pod('shop', 'old', { labels: { app: 'db' }, podIP: '10.0.0.9', ports: db.ports });
const svc: Service = {
  namespace: 'shop',
  name: 'db',
  selector: { app: 'db' },
  ports: [{ port: 80, targetPort: 'pg', protocol: 'TCP' }],
  clusterIP: '10.96.0.10',
  clusterIPs: ['10.96.0.10', 'fd00:96::a'],
};
const snap = (): Snapshot =>
  snapshot({ namespaces: [mesh], pods: [db, web, old], services: [svc] });

describe('dual stack in the compilers', () => {
  it('enrolls a workload with all its addresses', () => {
    const w = compileWorkloads(snap(), 'n1').find((x) => x.key === 'shop/db');
    expect(w).toMatchObject({ podIP: '10.0.0.7', podIPs: ['10.0.0.7', 'fd00::7'] });
    expect(compileWorkloads(snap(), 'n1').find((x) => x.key === 'shop/old')?.podIPs).toEqual([
      '10.0.0.9',
    ]);
  });

  it('knows a mesh pod by each of its addresses, and tunnels to its primary one', () => {
    const peers = compilePeers(snap(), 'cluster.local');
    expect(peers.get('fd00::7')).toMatchObject({ key: 'shop/db', ip: '10.0.0.7' });
    expect(peers.get('10.0.0.7')).toBe(peers.get('fd00::7'));
  });

  it('finds the pod behind either address for policy', () => {
    const t = compilePolicy(snap(), 'cluster.local', 'weft-system');
    expect(t.podsByIP.get('fd00::5')?.name).toBe('web');
    expect(t.podsByIP.get('10.0.0.5')?.name).toBe('web');
  });

  it('gives each ClusterIP the endpoints of its own family', () => {
    const t = compileServices(snap());
    expect(t.get(vipKey('10.96.0.10', 80))?.endpoints).toEqual([
      { ip: '10.0.0.7', port: 5432, pod: 'shop/db' },
      { ip: '10.0.0.9', port: 5432, pod: 'shop/old' },
    ]);
    // The IPv4-only pod has no IPv6 endpoint.
    expect(t.get(vipKey('fd00:96::a', 80))?.endpoints).toEqual([
      { ip: 'fd00::7', port: 5432, pod: 'shop/db' },
    ]);
  });

  it('turns a selected pod into a prefix per address', () => {
    const s: Snapshot = {
      ...snap(),
      networkPolicies: new Map([
        [
          'shop/p',
          {
            namespace: 'shop',
            name: 'p',
            podSelector: { matchLabels: { app: 'web' } },
            policyTypes: ['Egress'],
            ingress: [],
            egress: [{ peers: [{ podSelector: { matchLabels: { app: 'db' } } }], ports: [] }],
          },
        ],
      ]),
    };
    const addrs = [...compileEgress(s, 'shop', { app: 'web' }).entries.values()]
      .filter((e) => e.protocol === 'TCP')
      .map((e) => e.addr.toString('hex'));
    // The db pod's two addresses and the old db pod's; then the db Service's ClusterIP of
    // each family, judged by the pods behind it (netpol-services.ts).
    expect(addrs.sort()).toEqual([
      '00000000000000000000ffff0a000007',
      '00000000000000000000ffff0a000009',
      '00000000000000000000ffff0a60000a',
      'fd000000000000000000000000000007',
      'fd00009600000000000000000000000a',
    ]);
  });

  it("picks a pod's address of a destination's family", () => {
    expect(sameFamily(['10.0.0.5', 'fd00::5'], 'fd00::7')).toBe('fd00::5');
    expect(sameFamily(['10.0.0.5', 'fd00::5'], '10.0.0.7')).toBe('10.0.0.5');
    expect(sameFamily(['10.0.0.5'], 'fd00::7')).toBeUndefined();
  });

  it('judges ipBlocks at the proxy by the address the connection used', () => {
    const v6only = (direction: 'Egress' | 'Ingress') => ({
      namespace: 'shop',
      name: 'v6',
      podSelector: { matchLabels: { app: 'web' } },
      policyTypes: [direction],
      ingress:
        direction === 'Ingress'
          ? [{ peers: [{ ipBlock: { cidr: 'fd00::/64', except: [] } }], ports: [] }]
          : [],
      egress:
        direction === 'Egress'
          ? [{ peers: [{ ipBlock: { cidr: 'fd00::/64', except: [] } }], ports: [] }]
          : [],
    });
    const tables = (direction: 'Egress' | 'Ingress') =>
      compilePolicy(
        { ...snap(), networkPolicies: new Map([['shop/v6', v6only(direction)]]) },
        'cluster.local',
        'weft-system',
      );
    const egress = tables('Egress');
    expect(checkEgress(egress, 'shop/web', 'fd00::7', 5432).allow).toBe(true);
    expect(checkEgress(egress, 'shop/web', '10.0.0.7', 5432).allow).toBe(false);
    const ingress = tables('Ingress');
    expect(checkIngress(ingress, 'shop/web', { ip: 'fd00::7' }, 80).allow).toBe(true);
    expect(checkIngress(ingress, 'shop/web', { ip: '10.0.0.7' }, 80).allow).toBe(false);
  });
});
