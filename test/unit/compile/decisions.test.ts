// The proxy's decision tables (compileNode → decisions) against the evaluators,
// on seeded random snapshots: for every enrolled workload, source, identity and
// port, a lookup gives the verdict the evaluator gives (the policy and rule
// that decide, AUDIT matches, and a denial's words, which the evaluator writes);
// for every HTTP request on a port read as HTTP, the same; for every Service
// VIP, the same allowed endpoints.
import { describe, expect, it } from 'vitest';
import { compileNode } from '../../../agent/src/compile/node.ts';
import { peerId } from '../../../agent/src/identity/spiffe/spiffe.ts';
import { allowedTarget } from '../../../agent/src/policy/service-endpoints.ts';
import {
  checkEgress,
  checkIngress,
  checkRequest,
  needsHttp,
} from '../../../agent/src/proxy/authorize.ts';
import {
  decideEgress,
  decideIngress,
  decideRequest,
  portDecisions,
  type Source,
} from '../../../agent/src/proxy/decide.ts';
import { allowedEndpoints } from '../../../agent/src/proxy/tables.ts';
import { parseNetworkPolicy } from '../../../agent/src/sources/policy/netpol-parse.ts';
import type { AuthorizationPolicy, AuthzRequest } from '../../../agent/src/state/authz-types.ts';
import type { NetworkPolicy } from '../../../agent/src/state/netpol-types.ts';
import type { Namespace, Pod, Service, Snapshot } from '../../../agent/src/state/types.ts';
import { ap } from '../policy/authz-fixtures.ts';
import { pod, snapshot } from './fixtures.ts';

const settings = { node: 'n1', trustDomain: 'cluster.local', rootNamespace: 'weft-system' };
const NAMESPACES: Namespace[] = [
  { name: 'shop', labels: { 'weft.dev/mesh': 'enabled', team: 'a' } },
  { name: 'shop-prod', labels: { 'weft.dev/mesh': 'enabled', team: 'b' } },
  { name: 'weft-system', labels: {} },
];
const APPS = ['a', 'b', 'c'];
const PORTS = [
  { name: 'http', containerPort: 80, protocol: 'TCP' as const },
  { name: 'tcp-raw', containerPort: 9090, protocol: 'TCP' as const },
];
const pods: Pod[] = [
  ...APPS.flatMap((app, i) => [
    pod('shop', `${app}-0`, {
      labels: { app },
      podIP: `10.0.${i}.10`,
      serviceAccountName: app,
      ports: i === 2 ? [PORTS[0]!] : PORTS,
    }),
    pod('shop', `${app}-1`, {
      labels: { app, tier: 'x' },
      podIP: `10.0.${i}.11`,
      nodeName: 'n2',
      serviceAccountName: app,
      ports: PORTS,
    }),
  ]),
  pod('shop-prod', 'p-0', {
    labels: { app: 'a' },
    podIP: '10.1.0.10',
    podIPs: ['10.1.0.10', 'fd00::10'],
    serviceAccountName: 'prod',
    ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
  }),
];
const services: Service[] = [
  {
    namespace: 'shop',
    name: 'a',
    selector: { app: 'a' },
    ports: [
      { port: 80, targetPort: 'http', protocol: 'TCP' },
      { port: 91, targetPort: 9090, protocol: 'TCP' },
    ],
    clusterIP: '10.96.0.1',
  },
  {
    namespace: 'shop',
    name: 'b',
    selector: { app: 'b' },
    ports: [{ port: 80, targetPort: 80, protocol: 'TCP' }],
    clusterIP: '10.96.0.2',
  },
  {
    namespace: 'shop-prod',
    name: 'p',
    selector: { app: 'a' },
    ports: [{ port: 80, targetPort: 'http', protocol: 'TCP' }],
    clusterIP: '10.96.0.3',
  },
];

/** mulberry32, so a failure names its seed. */
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
  const some = <T>(xs: readonly T[], p = 0.5): T[] => xs.filter(() => next() < p);
  return { next, pick, some };
}
type R = ReturnType<typeof rng>;

function randomNetpol(r: R, n: number): NetworkPolicy {
  const peer = () =>
    r.next() < 0.5
      ? r.pick([
          { podSelector: { matchLabels: { app: r.pick(APPS) } } },
          { podSelector: { matchExpressions: [{ key: 'tier', operator: 'Exists' }] } },
          { namespaceSelector: { matchLabels: { team: r.pick(['a', 'b']) } } },
          {
            namespaceSelector: {},
            podSelector: { matchLabels: { app: r.pick(APPS) } },
          },
        ])
      : r.pick([
          { ipBlock: { cidr: '10.0.0.0/16' } },
          { ipBlock: { cidr: '10.0.0.0/16', except: ['10.0.1.11/32', '10.0.2.0/25'] } },
          { ipBlock: { cidr: '10.0.1.0/24' } },
          { ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.1.0/24'] } },
          { ipBlock: { cidr: 'fd00::/64' } },
          { ipBlock: { cidr: '10.96.0.0/16' } },
        ]);
  const port = () =>
    r.pick([
      { protocol: 'TCP', port: r.pick([80, 443, 8080]) },
      { protocol: 'TCP', port: 8000, endPort: 8100 },
      { protocol: 'TCP', port: 'http' },
      { protocol: 'TCP', port: 'tcp-raw' },
      { protocol: 'UDP', port: 80 },
      { protocol: 'TCP' },
    ]);
  const rule = (key: 'to' | 'from') => ({
    ...(r.next() < 0.8
      ? { [key]: Array.from({ length: 1 + Math.floor(r.next() * 2) }, peer) }
      : {}),
    ...(r.next() < 0.75
      ? { ports: Array.from({ length: 1 + Math.floor(r.next() * 2) }, port) }
      : {}),
  });
  const doc = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { namespace: r.pick(['shop', 'shop', 'shop-prod']), name: `np${n}` },
    spec: {
      podSelector: r.next() < 0.25 ? {} : { matchLabels: { app: r.pick(APPS) } },
      policyTypes: r.pick([['Ingress'], ['Egress'], ['Ingress', 'Egress']]),
      ingress: Array.from({ length: Math.floor(r.next() * 3) }, () => rule('from')),
      egress: Array.from({ length: Math.floor(r.next() * 3) }, () => rule('to')),
    },
  };
  const out = parseNetworkPolicy('random.yaml', doc, 0);
  expect(out.errors).toEqual([]);
  return out.policy!;
}

function randomAuthz(r: R, n: number): AuthorizationPolicy {
  const action = r.pick(['ALLOW', 'ALLOW', 'DENY', 'AUDIT']);
  const ns = r.pick(['shop', 'shop', 'shop-prod', 'weft-system']);
  const name = `ap${n}`;
  if (r.next() < 0.05)
    return {
      ...ap(ns, name, { action: 'DENY' }),
      rules: undefined,
      failClosed: 'a field weft does not read',
    };
  const source = () => {
    const s: Record<string, string[]> = {};
    if (r.next() < 0.4)
      s.principals = r.some(
        [
          'cluster.local/ns/shop/sa/a',
          'cluster.local/ns/shop/sa/*',
          '*/sa/b',
          '*',
          'cluster.local/ns/shop-prod/sa/prod',
        ],
        0.4,
      );
    if (r.next() < 0.2) s.notPrincipals = r.some(['cluster.local/ns/shop/sa/c', '*/sa/a'], 0.6);
    if (r.next() < 0.4) s.namespaces = r.some(['shop', 'shop-*', '*-prod', '*', 's*o*p'], 0.4);
    if (r.next() < 0.2) s.notNamespaces = r.some(['shop-prod', 'shop'], 0.6);
    if (r.next() < 0.3)
      s.ipBlocks = r.some(['10.0.0.0/16', '10.0.1.10', '192.168.0.0/16', 'fd00::/64'], 0.5);
    if (r.next() < 0.15) s.notIpBlocks = r.some(['10.0.2.0/24', '10.0.0.10'], 0.6);
    for (const k of Object.keys(s)) if (s[k]!.length === 0) delete s[k];
    if (Object.keys(s).length === 0) s.namespaces = ['*'];
    return { source: s };
  };
  const operation = () => {
    const o: Record<string, string[]> = {};
    if (r.next() < 0.4) o.ports = r.some(['80', '9090', '8080', '443'], 0.5);
    if (r.next() < 0.15) o.notPorts = r.some(['80', '9090'], 0.6);
    if (r.next() < 0.3) o.methods = r.some(['GET', 'POST', 'get'], 0.5);
    if (r.next() < 0.15) o.notMethods = ['DELETE'];
    if (r.next() < 0.3) o.paths = r.some(['/admin', '/public/*', '*.json', '*', '/'], 0.5);
    if (r.next() < 0.15) o.notPaths = r.some(['/admin', '/public/secret'], 0.6);
    if (r.next() < 0.2) o.hosts = r.some(['web.shop', '*.shop', 'WEB.*', '*'], 0.5);
    if (r.next() < 0.1) o.notHosts = ['evil.shop'];
    for (const k of Object.keys(o)) if (o[k]!.length === 0) delete o[k];
    if (Object.keys(o).length === 0) o.ports = ['80'];
    return { operation: o };
  };
  const condition = () =>
    r.pick([
      { key: 'source.ip', values: ['10.0.0.0/16'] },
      { key: 'source.namespace', values: ['shop'] },
      { key: 'source.principal', notValues: ['cluster.local/ns/shop/sa/b'] },
      { key: 'destination.port', values: [r.pick(['80', '9090', '8080'])] },
      { key: 'destination.port', notValues: ['80'] },
      { key: 'request.headers[x-team]', values: [r.pick(['a', '*', 'b*'])] },
      { key: 'request.headers[X-Empty]', values: ['*'] },
      { key: 'request.headers[x-team]', notValues: ['evil'] },
    ]);
  const rule = () => ({
    ...(r.next() < 0.6
      ? { from: Array.from({ length: 1 + Math.floor(r.next() * 2) }, source) }
      : {}),
    ...(r.next() < 0.6
      ? { to: Array.from({ length: 1 + Math.floor(r.next() * 2) }, operation) }
      : {}),
    ...(r.next() < 0.3
      ? { when: Array.from({ length: 1 + Math.floor(r.next() * 2) }, condition) }
      : {}),
  });
  const spec: Record<string, unknown> = { action };
  if (r.next() < 0.7) spec.selector = { matchLabels: { app: r.pick(APPS) } };
  if (r.next() < 0.92)
    spec.rules = Array.from({ length: Math.floor(r.next() * 3) + (r.next() < 0.2 ? 0 : 1) }, rule);
  return ap(ns, name, spec);
}

function randomSnapshot(r: R): Snapshot {
  const netpols = Array.from({ length: Math.floor(r.next() * 4) }, (_, n) => randomNetpol(r, n));
  const authz = Array.from({ length: Math.floor(r.next() * 5) }, (_, n) => randomAuthz(r, n));
  return {
    ...snapshot({ namespaces: NAMESPACES, pods, services }),
    networkPolicies: new Map(netpols.map((p) => [`${p.namespace}/${p.name}`, p])),
    authorizationPolicies: new Map(authz.map((p) => [`${p.namespace}/${p.name}`, p])),
  };
}

const ADDRESSES = [
  ...pods.flatMap((p) => p.podIPs ?? [p.podIP!]),
  '10.0.1.200',
  '10.0.2.100',
  '192.168.1.1',
  '::ffff:10.0.0.10',
  'fd00::99',
];
const IDENTITIES = [
  undefined,
  'spiffe://cluster.local/ns/shop/sa/a',
  'spiffe://cluster.local/ns/shop/sa/b',
  'spiffe://cluster.local/ns/shop-prod/sa/prod',
  'spiffe://cluster.local/other/path',
];
const CHECKED_PORTS = [80, 443, 8080, 8050, 9090, 7000];
const REQUESTS: AuthzRequest[] = [
  { method: 'GET', path: '/', host: '', headers: { 'x-team': '' } },
  { method: 'GET', path: '/', host: 'web.shop', headers: {} },
  { method: 'POST', path: '/admin?x=1', host: 'WEB.shop:80', headers: { 'X-Team': 'a' } },
  {
    method: 'GET',
    path: '/public/a.json#f',
    host: 'evil.shop',
    headers: { 'x-team': 'bb', 'x-empty': '' },
  },
  { method: 'DELETE', path: '/public/secret', host: 'web.shop', headers: { 'x-team': 'evil' } },
];

const SEEDS = 300;
const SAMPLES = 60;

/** Deep equality, asked of expect only when a cheap comparison says no (thousands of cases). */
function same(got: unknown, want: unknown, where: string): void {
  if (JSON.stringify(got) !== JSON.stringify(want)) expect(got, where).toEqual(want);
}

describe('decision tables', () => {
  it('agree with the evaluators on random snapshots: ingress, requests, egress and VIP endpoints', () => {
    let decided = 0;
    let denied = 0;
    let requests = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const r = rng(seed);
      const s = randomSnapshot(r);
      const t = compileNode(s, settings);
      const tables = {
        version: t.version,
        services: t.services,
        peers: t.peers,
        policy: t.policy,
        decisions: t.decisions,
        routes: t.routes,
      };
      const enrolled = t.workloads.filter((w) => w.enrolled).map((w) => w.key);
      expect(enrolled.length, `seed ${seed}`).toBeGreaterThan(0);
      for (const key of enrolled) {
        const inn = t.decisions.ingress.get(key)!;
        const out = t.decisions.egress.get(key)!;
        for (const port of CHECKED_PORTS) {
          const l7 = needsHttp(t.policy, key, port);
          expect(portDecisions(inn, port).http, `seed ${seed}: ${key}:${port} read as HTTP`).toBe(
            l7,
          );
        }
        // A sample of (source, identity, port): the whole product takes minutes with the evaluator.
        for (let i = 0; i < SAMPLES; i++) {
          const port = r.pick(CHECKED_PORTS);
          const ip = r.pick(ADDRESSES);
          const identity = r.pick(IDENTITIES);
          const where = `seed ${seed}: ${key}:${port} ↔ ${ip} as ${identity}`;
          const egress = decideEgress(out, t.policy, key, ip, port);
          const want = checkEgress(t.policy, key, ip, port);
          if (egress.allow !== want.allow) expect(egress.allow, `${where} egress`).toBe(want.allow);
          if (!want.allow) same(egress, { ...want, rule: egress.rule }, `${where} egress`);
          else if (out.netpol.isolated) expect(egress.policy, `${where} egress`).toBe(want.policy);
          const src: Source = identity ? { ip, ...peerId(identity) } : { ip };
          const l7 = portDecisions(inn, port).http;
          const got = decideIngress(inn, t.policy, key, src, port);
          same(got, checkIngress(t.policy, key, src, port, l7 ? 'per-request' : undefined), where);
          decided++;
          if (!got.allow) denied++;
          if (!l7 || !got.allow) continue;
          const req = r.pick(REQUESTS);
          const gotR = decideRequest(portDecisions(inn, port), t.policy, key, src, port, req);
          same(
            gotR,
            checkRequest(t.policy, key, src, port, req),
            `${where}: ${req.method} ${req.path}`,
          );
          requests++;
        }
        for (const [vip, target] of t.services)
          expect(
            allowedEndpoints(tables, key, vip, target),
            `seed ${seed}: ${key} → ${vip}`,
          ).toEqual(allowedTarget(t.policy, key, target));
      }
    }
    // The generator reaches both answers often.
    expect(denied).toBeGreaterThan(decided / 10);
    expect(denied).toBeLessThan(decided);
    expect(requests).toBeGreaterThan(SEEDS);
  });
});
