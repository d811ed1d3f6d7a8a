// Service VIPs under egress NetworkPolicy: a VIP port is judged by its
// endpoints, in the kernel's table (compileEgress) and in the proxy's choice.
import { describe, expect, it } from 'vitest';
import { compileEgress, type PeerEntry } from '../../../agent/src/compile/netpol.ts';
import { allowedTarget, vipEgress } from '../../../agent/src/compile/netpol-services.ts';
import { compilePolicy } from '../../../agent/src/compile/policy.ts';
import { compileServices, vipKey } from '../../../agent/src/compile/services.ts';
import type { NetworkPolicy, PolicyRule } from '../../../agent/src/state/netpol-types.ts';
import type { EndpointSlice, Service, Snapshot } from '../../../agent/src/state/types.ts';
import { pod, snapshot } from './fixtures.ts';

const toServers: PolicyRule = {
  peers: [{ podSelector: { matchLabels: { app: 'server' } } }],
  ports: [{ protocol: 'TCP', port: 8080 }],
};

const policy = (egress: PolicyRule[]): NetworkPolicy => ({
  namespace: 'shop',
  name: 'client-egress',
  podSelector: { matchLabels: { app: 'client' } },
  policyTypes: ['Egress'],
  ingress: [],
  egress,
});

const svc = (
  name: string,
  clusterIP: string,
  selector: Record<string, string>,
  targetPort: number | string,
): Service => ({
  namespace: 'shop',
  name,
  selector,
  ports: [{ port: 80, targetPort, protocol: 'TCP' }],
  clusterIP,
});

const http = [
  { name: 'http', containerPort: 8080, protocol: 'TCP' as const },
  { name: 'admin', containerPort: 9090, protocol: 'TCP' as const },
];

function snap(egress: PolicyRule[], extra: Partial<Snapshot> = {}): Snapshot {
  const s = snapshot({
    namespaces: [{ name: 'shop', labels: {} }],
    pods: [
      pod('shop', 'client', { labels: { app: 'client' }, podIP: '10.0.0.5' }),
      pod('shop', 'server-a', {
        labels: { app: 'server', role: 'backend' },
        podIP: '10.0.1.1',
        ports: http,
      }),
      pod('shop', 'server-b', {
        labels: { app: 'server', role: 'backend' },
        podIP: '10.0.1.2',
        ports: http,
      }),
      pod('shop', 'other', {
        labels: { app: 'other', role: 'backend' },
        podIP: '10.0.1.3',
        ports: http,
      }),
    ],
    services: [
      svc('server', '10.96.0.1', { app: 'server' }, 8080),
      svc('other', '10.96.0.2', { app: 'other' }, 8080),
      svc('mixed', '10.96.0.3', { role: 'backend' }, 'http'),
      svc('empty', '10.96.0.4', { app: 'nobody' }, 8080),
      svc('admin', '10.96.0.5', { app: 'server' }, 'admin'),
    ],
  });
  const p = policy(egress);
  return { ...s, networkPolicies: new Map([['shop/client-egress', p]]), ...extra };
}

/** The VIP entries of the client's kernel table, by VIP. */
function vipEntries(s: Snapshot): Record<string, unknown> {
  const t = compileEgress(s, 'shop', { app: 'client' });
  const out: Record<string, unknown> = {};
  for (const e of t.entries.values()) {
    const ip = [...e.addr.subarray(12)].join('.');
    if (ip.startsWith('10.96.') && e.bits === 128)
      out[ip] = e.ports.all
        ? 'all'
        : e.ports.ranges.map(([lo, hi]) => (lo === hi ? lo : `${lo}-${hi}`));
  }
  return out;
}

/** What the kernel decides for connect(VIP:port): the longest prefix entry covering it lists the port. */
function kernel(s: Snapshot, vip: string, port = 80): 'allow' | 'deny' {
  const t = compileEgress(s, 'shop', { app: 'client' });
  const addr = (0xffffn << 32n) | BigInt(vip.split('.').reduce((a, x) => a * 256 + Number(x), 0));
  let best: PeerEntry | undefined;
  for (const e of t.entries.values()) {
    const net = (e.addr.readBigUInt64BE(0) << 64n) | e.addr.readBigUInt64BE(8);
    const shift = BigInt(128 - e.bits);
    if (addr >> shift === net >> shift && (!best || e.bits > best.bits)) best = e;
  }
  if (!best) return 'deny';
  return best.ports.all || best.ports.ranges.some(([lo, hi]) => lo <= port && port <= hi)
    ? 'allow'
    : 'deny';
}

const pick = (s: Snapshot, vip: string) =>
  allowedTarget(
    compilePolicy(s, 'cluster.local', 'weft-system'),
    'shop/client',
    compileServices(s).get(vipKey(vip, 80))!,
  ).endpoints.map((e) => e.pod);

describe('Service VIPs under egress NetworkPolicy', () => {
  it('allows a VIP whose endpoints are all allowed, on its Service port', () => {
    expect(vipEntries(snap([toServers]))['10.96.0.1']).toEqual([80]);
    expect(kernel(snap([toServers]), '10.96.0.1')).toBe('allow');
    expect(kernel(snap([toServers]), '10.96.0.1', 81)).toBe('deny');
    expect(pick(snap([toServers]), '10.96.0.1')).toEqual(['shop/server-a', 'shop/server-b']);
  });

  it('denies a VIP whose endpoints are all denied', () => {
    // No prefix covers the VIP: no entry is needed for EPERM.
    expect(vipEntries(snap([toServers]))['10.96.0.2']).toBeUndefined();
    expect(kernel(snap([toServers]), '10.96.0.2')).toBe('deny');
    expect(pick(snap([toServers]), '10.96.0.2')).toEqual([]);
  });

  it('allows a mixed VIP at connect(), and the proxy picks only its allowed endpoints', () => {
    expect(vipEntries(snap([toServers]))['10.96.0.3']).toEqual([80]);
    expect(pick(snap([toServers]), '10.96.0.3')).toEqual(['shop/server-a', 'shop/server-b']);
  });

  it('judges a named targetPort on each endpoint: the admin port is not allowed', () => {
    expect(kernel(snap([toServers]), '10.96.0.5')).toBe('deny');
    const named: PolicyRule = {
      peers: toServers.peers,
      ports: [{ protocol: 'TCP', port: 'admin' }],
    };
    expect(vipEntries(snap([named]))['10.96.0.5']).toEqual([80]);
    expect(kernel(snap([named]), '10.96.0.1')).toBe('deny');
  });

  it('denies a VIP with no endpoints (Kubernetes would refuse the connection)', () => {
    expect(kernel(snap([toServers]), '10.96.0.4')).toBe('deny');
    const s = snap([toServers]);
    expect(
      vipEgress(s, 'shop', { app: 'client' }, [...s.networkPolicies!.values()]),
    ).toContainEqual({
      ip: '10.96.0.4',
      protocol: 'TCP',
      ports: [],
    });
  });

  it('follows a policy change', () => {
    const toAll: PolicyRule = {
      peers: [{ podSelector: { matchLabels: { role: 'backend' } } }],
      ports: [{ protocol: 'TCP', port: 8080 }],
    };
    expect(vipEntries(snap([toAll]))).toMatchObject({ '10.96.0.2': [80], '10.96.0.3': [80] });
    expect(pick(snap([toAll]), '10.96.0.3')).toEqual([
      'shop/other',
      'shop/server-a',
      'shop/server-b',
    ]);
    const none: PolicyRule = { peers: toServers.peers, ports: [{ protocol: 'TCP', port: 9999 }] };
    expect(kernel(snap([none]), '10.96.0.1')).toBe('deny');
    expect(kernel(snap([none]), '10.96.0.3')).toBe('deny');
  });

  it('overrides an ipBlock that covers the VIP but excepts the pods behind it', () => {
    const block: PolicyRule = {
      peers: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.0.1.0/24'] } }],
      ports: [],
    };
    // The ipBlock alone would let the VIP through: its own entry, with no port, takes that back.
    expect(vipEntries(snap([block]))).toMatchObject({ '10.96.0.1': [], '10.96.0.3': [] });
    expect(kernel(snap([block]), '10.96.0.1')).toBe('deny');
    expect(kernel(snap([block]), '10.96.1.1')).toBe('allow');
  });

  it('tells replicas apart by address where an ipBlock rule covers the port', () => {
    const one: PolicyRule = {
      peers: [{ ipBlock: { cidr: '10.0.1.1/32', except: [] } }],
      ports: [{ protocol: 'TCP', port: 8080 }],
    };
    // server-a and server-b have the same labels and ports: only server-a's address is allowed.
    expect(kernel(snap([one, toServers]), '10.96.0.1')).toBe('allow');
    expect(pick(snap([one]), '10.96.0.1')).toEqual(['shop/server-a']);
    expect(kernel(snap([one]), '10.96.0.1')).toBe('allow');
    expect(kernel(snap([one]), '10.96.0.2')).toBe('deny');
    // A Service whose only endpoint is server-b (from its slice) is denied, though a pod of
    // the same shape was allowed for the Service judged before it.
    const slice = (service: string, ips: string[]): EndpointSlice => ({
      namespace: 'shop',
      name: `${service}-1`,
      service,
      addressType: 'IPv4',
      ports: [{ name: '', port: 8080, protocol: 'TCP' }],
      endpoints: ips.map((ip) => ({ addresses: [ip], ready: true })),
    });
    const slices = new Map([
      ['shop/server-1', slice('server', ['10.0.1.1', '10.0.1.2'])],
      ['shop/other-1', slice('other', ['10.0.1.2'])],
    ]);
    const s = snap([one], { endpointSlices: slices });
    expect([kernel(s, '10.96.0.1'), kernel(s, '10.96.0.2')]).toEqual(['allow', 'deny']);
  });

  it('takes the endpoints from EndpointSlices when the source has them (ready ones only)', () => {
    const slice: EndpointSlice = {
      namespace: 'shop',
      name: 'mixed-1',
      service: 'mixed',
      addressType: 'IPv4',
      ports: [{ name: '', port: 8080, protocol: 'TCP' }],
      endpoints: [
        { addresses: ['10.0.1.3'], ready: true, pod: 'shop/other' },
        { addresses: ['10.0.1.1'], ready: false, pod: 'shop/server-a' },
      ],
    };
    const s = snap([toServers], { endpointSlices: new Map([['shop/mixed-1', slice]]) });
    // Only the denied pod is ready: the VIP is denied; the others have no slices at all.
    expect(kernel(s, '10.96.0.3')).toBe('deny');
    expect(kernel(s, '10.96.0.1')).toBe('deny');
  });

  it('leaves a workload without egress policy alone', () => {
    const s = snap([toServers]);
    expect(compileEgress(s, 'shop', { app: 'server' }).isolated).toBe(false);
    expect(
      allowedTarget(
        compilePolicy(s, 'cluster.local', 'weft-system'),
        'shop/server-a',
        compileServices(s).get(vipKey('10.96.0.2', 80))!,
      ).endpoints.map((e) => e.pod),
    ).toEqual(['shop/other']);
  });
});

describe('UDP Service VIPs under egress NetworkPolicy', () => {
  // A resolver Service: the kernel sees its VIP at sendmsg(), before kube-proxy translates it.
  const dns = (egress: PolicyRule[]): Snapshot => {
    const s = snapshot({
      namespaces: [{ name: 'shop', labels: {} }],
      pods: [
        pod('shop', 'client', { labels: { app: 'client' }, podIP: '10.0.0.5' }),
        pod('shop', 'dns', {
          labels: { app: 'dns' },
          podIP: '10.0.2.1',
          ports: [{ name: 'dns', containerPort: 5353, protocol: 'UDP' }],
        }),
      ],
      services: [
        {
          namespace: 'shop',
          name: 'dns',
          selector: { app: 'dns' },
          ports: [{ port: 53, targetPort: 'dns', protocol: 'UDP' }],
          clusterIP: '10.96.0.10',
        },
      ],
    });
    return { ...s, networkPolicies: new Map([['shop/client-egress', policy(egress)]]) };
  };
  const vipPorts = (s: Snapshot, protocol: string) =>
    [...compileEgress(s, 'shop', { app: 'client' }).entries.values()]
      .filter((e) => e.protocol === protocol && e.bits === 128)
      .filter((e) => [...e.addr.subarray(12)].join('.') === '10.96.0.10')
      .map((e) => e.ports.ranges);

  it('opens a UDP VIP whose endpoints the policy allows for UDP, in the UDP table only', () => {
    const s = dns([
      {
        peers: [{ podSelector: { matchLabels: { app: 'dns' } } }],
        ports: [{ protocol: 'UDP', port: 5353 }],
      },
    ]);
    expect(vipPorts(s, 'UDP')).toEqual([[[53, 53]]]);
    expect(vipPorts(s, 'TCP')).toEqual([]);
  });

  it('keeps a UDP VIP closed when the policy allows its endpoints for TCP only', () => {
    const s = dns([
      {
        peers: [{ podSelector: { matchLabels: { app: 'dns' } } }],
        ports: [{ protocol: 'TCP', port: 5353 }],
      },
    ]);
    expect(vipPorts(s, 'UDP')).toEqual([]);
  });
});
