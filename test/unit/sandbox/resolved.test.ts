// What the sandbox fills in: single-stack output as it always was, dual stack
// adds status.podIPs and a Service's ClusterIP per family.
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import {
  nextClusterIP6,
  podIP6,
  sandboxLayout,
} from '../../../agent/src/sandbox/layout/topology.ts';
import { renderResolved } from '../../../agent/src/sandbox/resolved.ts';
import type { ClusterObjects } from '../../../agent/src/state/types.ts';

const objs: ClusterObjects = {
  namespaces: new Map([['shop', { name: 'shop', labels: {} }]]),
  pods: new Map([
    [
      'shop/web',
      {
        namespace: 'shop',
        name: 'web',
        labels: { app: 'web' },
        annotations: {},
        serviceAccountName: 'default',
        nodeName: 'node-2',
        ports: [],
      },
    ],
  ]),
  services: new Map([
    [
      'shop/web',
      {
        namespace: 'shop',
        name: 'web',
        selector: { app: 'web' },
        ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }],
        ipFamilyPolicy: 'PreferDualStack',
      },
    ],
  ]),
};
const at = { ip: '10.244.2.5', hostIP: '10.250.2.2', netnsPath: '/n', cgroupDir: '/c' };
const render = (ip6: string | undefined, vips: string[]) =>
  parseAllDocuments(
    renderResolved(
      objs,
      new Map([['shop/web', ip6 ? { ...at, ip6 } : at]]),
      new Map([['shop/web', vips]]),
    ),
  ).map((d) => d.toJS());

describe('sandbox addresses', () => {
  it('mirrors a pod IPv4 host number in its node IPv6 range', () => {
    const n2 = sandboxLayout('t').node(2);
    expect(podIP6(n2, '10.244.2.26')).toBe('fd00:10:244:2::1a');
    expect([n2.underlayIP6, n2.routerIP6, n2.gateway6]).toEqual([
      'fd00:10:250:2::2',
      'fd00:10:250:2::1',
      'fd00:10:244:2::1',
    ]);
    expect(nextClusterIP6(new Set(['fd00:10:96::a']))).toBe('fd00:10:96::b');
  });

  it('writes single-stack pods and Services as before', () => {
    const [, pod, svc] = render(undefined, ['10.96.0.10']);
    expect(pod.status).toEqual({ podIP: '10.244.2.5', hostIP: '10.250.2.2' });
    expect(svc.spec).toEqual({
      selector: { app: 'web' },
      ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }],
      clusterIP: '10.96.0.10',
    });
  });

  it('writes podIPs and clusterIPs of both families in a dual-stack sandbox', () => {
    const [, pod, svc] = render('fd00:10:244:2::5', ['10.96.0.10', 'fd00:10:96::a']);
    expect(pod.status).toEqual({
      podIP: '10.244.2.5',
      podIPs: [{ ip: '10.244.2.5' }, { ip: 'fd00:10:244:2::5' }],
      hostIP: '10.250.2.2',
    });
    expect(svc.spec).toMatchObject({
      clusterIP: '10.96.0.10',
      clusterIPs: ['10.96.0.10', 'fd00:10:96::a'],
      ipFamilies: ['IPv4', 'IPv6'],
      ipFamilyPolicy: 'PreferDualStack',
    });
  });
});
