// compileNode: every table of a node from one snapshot, pure; and a property test
// that the kernel's tables (looked up as the LPM maps do) and the proxy's
// evaluator give the same answer for random NetworkPolicies.
import { describe, expect, it } from 'vitest';
import { compileWorkloads } from '../../../agent/src/compile/enrollment.ts';
import { compileEgress, compilePeerTable } from '../../../agent/src/compile/netpol.ts';
import { compileNode } from '../../../agent/src/compile/node.ts';
import { compilePeers } from '../../../agent/src/compile/peers.ts';
import { compilePolicy } from '../../../agent/src/compile/policy.ts';
import { compileServices } from '../../../agent/src/compile/services.ts';
import { checkEgress, checkIngress } from '../../../agent/src/proxy/authorize.ts';
import { parseNetworkPolicy } from '../../../agent/src/sources/policy/netpol-parse.ts';
import type { NetworkPolicy } from '../../../agent/src/state/netpol-types.ts';
import type { Snapshot } from '../../../agent/src/state/types.ts';
import type { PeerTable } from '../../../agent/src/tables/peer-table.ts';
import { pod, snapshot } from './fixtures.ts';

const settings = { node: 'n1', trustDomain: 'cluster.local', rootNamespace: 'weft-system' };
const mesh = { name: 'shop', labels: { 'weft.dev/mesh': 'enabled' } };
const APPS = ['a', 'b', 'c'];
const pods = APPS.flatMap((app, i) => [
  pod('shop', `${app}-0`, {
    labels: { app },
    podIP: `10.0.${i}.10`,
    ports: [{ containerPort: 80, protocol: 'TCP' as const }],
  }),
  pod('shop', `${app}-1`, {
    labels: { app },
    podIP: `10.0.${i}.11`,
    nodeName: 'n2',
    ports: [{ containerPort: 80, protocol: 'TCP' as const }],
  }),
]);

/** A small deterministic generator (mulberry32), so a failure names its seed. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  return { next, pick };
}

function randomPolicy(r: ReturnType<typeof rng>, n: number): NetworkPolicy {
  const peer = () =>
    r.next() < 0.5
      ? { podSelector: { matchLabels: { app: r.pick(APPS) } } }
      : r.pick([
          { ipBlock: { cidr: '10.0.0.0/16' } },
          { ipBlock: { cidr: '10.0.0.0/16', except: ['10.0.1.11/32', '10.0.2.0/25'] } },
          { ipBlock: { cidr: '10.0.1.0/24' } },
          { ipBlock: { cidr: '10.0.2.0/24', except: ['10.0.2.0/25'] } },
          { ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.1.0/24'] } },
        ]);
  const rule = (key: 'to' | 'from') => ({
    ...(r.next() < 0.8 ? { [key]: [peer()] } : {}),
    ...(r.next() < 0.7
      ? { ports: [{ protocol: 'TCP', port: r.pick([80, 443, 8080]) }] }
      : r.next() < 0.5
        ? { ports: [{ protocol: 'TCP', port: 8000, endPort: 8100 }] }
        : {}),
  });
  const types = r.pick([['Ingress'], ['Egress'], ['Ingress', 'Egress']]);
  const doc = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { namespace: 'shop', name: `p${n}` },
    spec: {
      podSelector: r.next() < 0.2 ? {} : { matchLabels: { app: r.pick(APPS) } },
      policyTypes: types,
      ingress: Array.from({ length: Math.floor(r.next() * 3) }, () => rule('from')),
      egress: Array.from({ length: Math.floor(r.next() * 3) }, () => rule('to')),
    },
  };
  const out = parseNetworkPolicy('random.yaml', doc, 0);
  expect(out.errors).toEqual([]);
  return out.policy!;
}

/** The kernel's answer: longest TCP prefix holding the address, then its ports. */
function lookup(t: PeerTable, ip: string, port: number): boolean {
  if (!t.isolated) return true;
  const v4 = ip.split('.').map(Number);
  const addr = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4]);
  let best: { bits: number; allow: boolean } | undefined;
  for (const e of t.entries.values()) {
    if (e.protocol !== 'TCP') continue;
    let match = true;
    for (let b = 0; b < e.bits && match; b++) {
      const mask = 0x80 >> (b % 8);
      if ((e.addr[b >> 3]! & mask) !== (addr[b >> 3]! & mask)) match = false;
    }
    if (!match || (best && best.bits >= e.bits)) continue;
    const allow = e.ports.all || e.ports.ranges.some(([lo, hi]) => port >= lo && port <= hi);
    best = { bits: e.bits, allow };
  }
  return best?.allow ?? false;
}

const snap = (policies: NetworkPolicy[]): Snapshot => ({
  ...snapshot({ namespaces: [mesh], pods }),
  networkPolicies: new Map(policies.map((p) => [`${p.namespace}/${p.name}`, p])),
});

describe('compileNode', () => {
  it('gives what each compiler gives, for the enrolled workloads of the node', () => {
    const r = rng(7);
    const s = snap([randomPolicy(r, 0), randomPolicy(r, 1)]);
    const t = compileNode(s, settings);
    expect(t.workloads).toEqual(compileWorkloads(s, 'n1'));
    expect(t.policy).toEqual(compilePolicy(s, 'cluster.local', 'weft-system'));
    expect(t.peers).toEqual(compilePeers(s, 'cluster.local'));
    expect(t.services).toEqual(compileServices(s));
    expect([...t.peerTables.keys()]).toEqual(['shop/a-0', 'shop/b-0', 'shop/c-0']);
    for (const [key, tables] of t.peerTables) {
      const p = s.pods.get(key)!;
      expect(tables).toEqual({
        egress: compileEgress(s, 'shop', p.labels),
        ingress: compilePeerTable(s, 'shop', p.labels, 'ingress', p.ports),
      });
    }
  });

  it('agrees with the evaluator on every address and port, for random policies', () => {
    const others = [...pods.map((p) => p.podIP!), '10.0.1.200', '10.0.2.100', '192.168.1.1'];
    const ports = [80, 443, 8080, 8050, 9000];
    for (let seed = 1; seed <= 200; seed++) {
      const r = rng(seed);
      const s = snap(
        Array.from({ length: 1 + Math.floor(r.next() * 3) }, (_, n) => randomPolicy(r, n)),
      );
      const t = compileNode(s, settings);
      for (const [key, tables] of t.peerTables) {
        if ('error' in tables) throw new Error(`seed ${seed}: ${tables.error}`);
        for (const ip of others) {
          for (const port of ports) {
            const where = `seed ${seed}: ${key} ↔ ${ip}:${port}`;
            expect(lookup(tables.egress, ip, port), `${where} egress`).toBe(
              checkEgress(t.policy, key, ip, port).allow,
            );
            // Ingress is checked on the pod's own ports (sk_lookup steers those).
            if (port !== 80) continue;
            expect(lookup(tables.ingress, ip, port), `${where} ingress`).toBe(
              checkIngress(t.policy, key, { ip }, port).allow,
            );
          }
        }
      }
    }
  });
});
