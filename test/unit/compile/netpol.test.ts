import { describe, expect, it } from 'vitest';
import { compileEgress, compilePeerTable } from '../../../agent/src/compile/netpol.ts';
import type { NetworkPolicy } from '../../../agent/src/state/netpol-types.ts';
import type { Snapshot } from '../../../agent/src/state/types.ts';
import { pod, snapshot } from './fixtures.ts';

const policy = (egress: NetworkPolicy['egress'], name = 'p'): NetworkPolicy => ({
  namespace: 'shop',
  name,
  podSelector: { matchLabels: { app: 'web' } },
  policyTypes: ['Egress'],
  ingress: [],
  egress,
});

function snap(policies: NetworkPolicy[]): Snapshot {
  const s = snapshot({
    namespaces: [{ name: 'shop', labels: {} }],
    pods: [
      pod('shop', 'db', { labels: { app: 'db' }, podIP: '10.0.0.7' }),
      pod('shop', 'web', { labels: { app: 'web' }, podIP: '10.0.0.5' }),
    ],
  });
  return { ...s, networkPolicies: new Map(policies.map((p) => [`${p.namespace}/${p.name}`, p])) };
}

const entries = (t: ReturnType<typeof compileEgress>) =>
  [...t.entries.values()].map((e) => ({
    protocol: e.protocol,
    addr: e.addr.toString('hex'),
    bits: e.bits,
    ...e.ports,
  }));

describe('egress compiler', () => {
  it('leaves a workload no policy selects unisolated', () => {
    expect(compileEgress(snap([]), 'shop', { app: 'web' })).toMatchObject({ isolated: false });
    expect(compileEgress(snap([policy([])]), 'shop', { app: 'other' }).isolated).toBe(false);
  });

  it('isolates with no entries when no rule allows anything', () => {
    const t = compileEgress(snap([policy([])]), 'shop', { app: 'web' });
    expect(t).toMatchObject({ isolated: true, policies: ['shop/p'] });
    expect(t.entries.size).toBe(0);
  });

  it('turns a pod selector into /32 entries (as ::ffff:a.b.c.d/128) with its ports', () => {
    const t = compileEgress(
      snap([
        policy([
          {
            peers: [{ podSelector: { matchLabels: { app: 'db' } } }],
            ports: [{ protocol: 'TCP', port: 5432 }],
          },
        ]),
      ]),
      'shop',
      { app: 'web' },
    );
    expect(entries(t)).toEqual([
      {
        protocol: 'TCP',
        addr: '00000000000000000000ffff0a000007',
        bits: 128,
        all: false,
        ranges: [[5432, 5432]],
      },
    ]);
  });

  it('punches excepts as holes and merges ports of covering rules', () => {
    const t = compileEgress(
      snap([
        policy([
          {
            peers: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } }],
            ports: [{ protocol: 'TCP', port: 80, endPort: 90 }],
          },
          { peers: [], ports: [{ protocol: 'TCP', port: 443 }] },
        ]),
      ]),
      'shop',
      { app: 'web' },
    );
    const byBits = new Map(entries(t).map((e) => [e.bits, e]));
    // Everything: 443 only. 10/8: 80-90 and 443. The except 10.1/16: back to 443 only.
    expect(byBits.get(0)).toMatchObject({ all: false, ranges: [[443, 443]] });
    expect(byBits.get(104)).toMatchObject({
      addr: '00000000000000000000ffff0a000000',
      ranges: [
        [80, 90],
        [443, 443],
      ],
    });
    expect(byBits.get(112)).toMatchObject({
      addr: '00000000000000000000ffff0a010000',
      ranges: [[443, 443]],
    });
  });

  it('keeps an except to its own ipBlock: a pod peer of the same rule inside it stays allowed', () => {
    const t = compileEgress(
      snap([
        policy([
          {
            peers: [
              { ipBlock: { cidr: '10.0.0.0/8', except: ['10.0.0.0/24'] } },
              { podSelector: { matchLabels: { app: 'db' } } },
            ],
            ports: [{ protocol: 'TCP', port: 5432 }],
          },
        ]),
      ]),
      'shop',
      { app: 'web' },
    );
    const byBits = new Map(entries(t).map((e) => [e.bits, e]));
    // 10.0.0.7 (shop/db) is in the except, but the pod peer allows it, as the evaluator does.
    expect(byBits.get(128)).toMatchObject({
      addr: '00000000000000000000ffff0a000007',
      ranges: [[5432, 5432]],
    });
    expect(byBits.get(120)).toMatchObject({ ranges: [] });
    expect(byBits.get(104)).toMatchObject({ ranges: [[5432, 5432]] });
  });

  it('allows all ports where the exact answer does not fit (named ports): the proxy stays exact', () => {
    const t = compileEgress(
      snap([
        policy([{ peers: [{ podSelector: {} }], ports: [{ protocol: 'TCP', port: 'http' }] }]),
      ]),
      'shop',
      { app: 'web' },
    );
    expect(entries(t).every((e) => e.all)).toBe(true);
  });

  it('lets UDP-only rules allow no TCP: their ports go under UDP alone', () => {
    const t = compileEgress(
      snap([policy([{ peers: [], ports: [{ protocol: 'UDP', port: 53 }] }])]),
      'shop',
      { app: 'web' },
    );
    expect(entries(t)).toEqual([
      {
        protocol: 'UDP',
        addr: '00000000000000000000000000000000',
        bits: 0,
        all: false,
        ranges: [[53, 53]],
      },
    ]);
  });

  it('keeps each protocol to its own ports; a rule without ports opens both', () => {
    const t = compileEgress(
      snap([
        policy([
          {
            peers: [{ podSelector: { matchLabels: { app: 'db' } } }],
            ports: [
              { protocol: 'TCP', port: 80 },
              { protocol: 'UDP', port: 53 },
              { protocol: 'UDP', port: 5000, endPort: 5010 },
            ],
          },
          { peers: [{ ipBlock: { cidr: '192.0.2.0/24', except: [] } }], ports: [] },
        ]),
      ]),
      'shop',
      { app: 'web' },
    );
    const by = new Map(entries(t).map((e) => [`${e.protocol} ${e.bits}`, e]));
    expect(by.get('TCP 128')).toMatchObject({ all: false, ranges: [[80, 80]] });
    expect(by.get('UDP 128')).toMatchObject({
      all: false,
      ranges: [
        [53, 53],
        [5000, 5010],
      ],
    });
    expect(by.get('TCP 120')).toMatchObject({ all: true });
    expect(by.get('UDP 120')).toMatchObject({ all: true });
    expect(by.size).toBe(4);
  });

  it('gives a longer prefix the covering UDP ports too, so longest match stays right per protocol', () => {
    const t = compileEgress(
      snap([
        policy([
          {
            peers: [{ ipBlock: { cidr: '10.0.0.0/24', except: [] } }],
            ports: [{ protocol: 'UDP', port: 53 }],
          },
          {
            peers: [{ podSelector: { matchLabels: { app: 'db' } } }],
            ports: [{ protocol: 'TCP', port: 5432 }],
          },
        ]),
      ]),
      'shop',
      { app: 'web' },
    );
    const by = new Map(entries(t).map((e) => [`${e.protocol} ${e.bits}`, e]));
    expect(by.get('UDP 128')).toMatchObject({ ranges: [[53, 53]] });
    expect(by.get('TCP 128')).toMatchObject({ ranges: [[5432, 5432]] });
    expect(by.get('TCP 120')).toMatchObject({ all: false, ranges: [] });
  });

  it('resolves a named UDP port of an egress rule against each peer pod, never widening it', () => {
    const s = snapshot({
      namespaces: [{ name: 'shop', labels: {} }],
      pods: [
        pod('shop', 'web', { labels: { app: 'web' }, podIP: '10.0.0.5' }),
        pod('shop', 'dns-a', {
          labels: { app: 'dns' },
          podIP: '10.0.0.8',
          ports: [
            { name: 'dns', containerPort: 53, protocol: 'UDP' },
            { name: 'dns', containerPort: 5353, protocol: 'TCP' },
          ],
        }),
        pod('shop', 'dns-b', {
          labels: { app: 'dns' },
          podIP: '10.0.0.9',
          ports: [{ name: 'dns', containerPort: 1053, protocol: 'UDP' }],
        }),
      ],
    });
    const p = policy([
      {
        peers: [
          { podSelector: { matchLabels: { app: 'dns' } } },
          { ipBlock: { cidr: '10.0.0.0/24', except: ['10.0.0.9/32'] } },
        ],
        ports: [{ protocol: 'UDP', port: 'dns' }],
      },
    ]);
    const t = compileEgress({ ...s, networkPolicies: new Map([['shop/p', p]]) }, 'shop', {
      app: 'web',
    });
    const udp = new Map(
      entries(t)
        .filter((e) => e.protocol === 'UDP')
        .map((e) => [`${e.addr.slice(-8)}/${e.bits}`, e]),
    );
    expect(udp.get('0a000008/128')).toMatchObject({ all: false, ranges: [[53, 53]] });
    expect(udp.get('0a000009/128')).toMatchObject({ all: false, ranges: [[1053, 1053]] });
    // The rest of the block holds no pod with a UDP port of that name: nothing.
    expect(udp.get('0a000000/120')).toMatchObject({ all: false, ranges: [] });
    expect(entries(t).some((e) => e.all)).toBe(false);
  });

  it('cuts UDP ranges past what the map holds (fails closed) and says so; TCP opens all for the proxy', () => {
    const many = Array.from({ length: 10 }, (_, i) => ({
      protocol: 'UDP' as const,
      port: 1000 + i * 10,
    }));
    const t = compileEgress(
      snap([
        policy([
          {
            peers: [{ podSelector: { matchLabels: { app: 'db' } } }],
            ports: [...many, ...many.map((p) => ({ ...p, protocol: 'TCP' as const }))],
          },
        ]),
      ]),
      'shop',
      { app: 'web' },
    );
    const [tcp, udp] = [
      entries(t).find((e) => e.protocol === 'TCP'),
      entries(t).find((e) => e.protocol === 'UDP'),
    ];
    expect(tcp).toMatchObject({ all: true });
    expect(udp).toMatchObject({ all: false, truncated: true });
    expect(udp?.ranges).toHaveLength(8);
    expect(udp?.ranges.at(-1)).toEqual([1070, 1070]);
    expect(t.unenforced).toEqual([
      'UDP to 10.0.0.7/32: more than 8 port ranges, only 1000,1010,1020,1030,1040,1050,1060,1070 let through',
    ]);
  });

  it('compiles ingress with named ports resolved exactly against the workload itself', () => {
    const ingress: NetworkPolicy = {
      namespace: 'shop',
      name: 'in',
      podSelector: { matchLabels: { app: 'db' } },
      policyTypes: ['Ingress'],
      ingress: [
        {
          peers: [{ podSelector: { matchLabels: { app: 'web' } } }],
          ports: [{ protocol: 'TCP', port: 'pg' }],
        },
      ],
      egress: [],
    };
    const s = { ...snap([]), networkPolicies: new Map([['shop/in', ingress]]) };
    const t = compilePeerTable(s, 'shop', { app: 'db' }, 'ingress', [
      { name: 'pg', containerPort: 5432, protocol: 'TCP' },
      { name: 'pg', containerPort: 5433, protocol: 'UDP' },
    ]);
    expect(entries(t)).toEqual([
      {
        protocol: 'TCP',
        addr: '00000000000000000000ffff0a000005',
        bits: 128,
        all: false,
        ranges: [[5432, 5432]],
      },
    ]);
    expect(compileEgress(s, 'shop', { app: 'db' }).isolated).toBe(false);
  });
});
