// The proxy's policy decision per connection and per HTTP request, in process
// (no sockets): a lookup in the compiled decision tables against the evaluators
// (uncached). With WEFT_BENCH_BASE=<an older checkout> the older code's own
// per-connection path (its proxy/authorize.ts) is measured in the same run,
// rounds interleaved. `node bench/decisions.ts`; prints a table (ns per decision).
import { compileDecisions } from '../agent/src/compile/decisions.ts';
import { compileNode } from '../agent/src/compile/node.ts';
import { peerId } from '../agent/src/identity/spiffe/spiffe.ts';
import * as now from '../agent/src/proxy/authorize.ts';
import {
  decideEgress,
  decideIngress,
  decideRequest,
  portDecisions,
} from '../agent/src/proxy/decide.ts';
import type {
  AuthorizationPolicy,
  AuthzOperation,
  AuthzRequest,
  AuthzSource,
} from '../agent/src/state/authz-types.ts';
import type { NetworkPolicy } from '../agent/src/state/netpol-types.ts';
import type { Namespace, Pod, Snapshot } from '../agent/src/state/types.ts';

const PODS = Number(process.env.WEFT_BENCH_POLICY_PODS ?? 1000);
const NAMESPACES = 20;
const NETPOLS = Number(process.env.WEFT_BENCH_POLICIES ?? 100);
const AUTHZ = 20;
const ROUNDS = Number(process.env.WEFT_BENCH_ROUNDS ?? 5);
const OPS = Number(process.env.WEFT_BENCH_DECISIONS ?? 20_000);

const src = (over: Partial<AuthzSource>): AuthzSource => ({
  principals: [],
  notPrincipals: [],
  namespaces: [],
  notNamespaces: [],
  ipBlocks: [],
  notIpBlocks: [],
  ...over,
});
const op = (over: Partial<AuthzOperation>): AuthzOperation => ({
  ports: [],
  notPorts: [],
  methods: [],
  notMethods: [],
  paths: [],
  notPaths: [],
  hosts: [],
  notHosts: [],
  ...over,
});

function cluster(): Snapshot {
  const namespaces = new Map<string, Namespace>();
  for (let n = 0; n < NAMESPACES; n++)
    namespaces.set(`ns${n}`, {
      name: `ns${n}`,
      labels: { team: `t${n % 5}`, 'weft.dev/mesh': 'enabled' },
    });
  const pods = new Map<string, Pod>();
  for (let i = 0; i < PODS; i++) {
    const ns = `ns${i % NAMESPACES}`;
    pods.set(`${ns}/p${i}`, {
      namespace: ns,
      name: `p${i}`,
      labels: { app: `a${i % 10}`, tier: i % 3 === 0 ? 'db' : 'web' },
      annotations: {
        'weft.dev/netns-path': `/run/netns/p${i}`,
        'weft.dev/cgroup-path': `/cg/p${i}`,
      },
      serviceAccountName: `sa${i % 7}`,
      nodeName: i < 20 ? 'n1' : `n${2 + (i % 9)}`,
      ports: [
        { name: 'http', containerPort: 8080, protocol: 'TCP' },
        { name: 'tcp-db', containerPort: 5432, protocol: 'TCP' },
      ],
      podIP: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    });
  }
  const networkPolicies = new Map<string, NetworkPolicy>();
  for (let k = 0; k < NETPOLS; k++) {
    const ns = `ns${k % NAMESPACES}`;
    networkPolicies.set(`${ns}/np${k}`, {
      namespace: ns,
      name: `np${k}`,
      podSelector: { matchLabels: { app: `a${k % 10}` } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        {
          peers: [
            {
              namespaceSelector: { matchLabels: { team: `t${k % 5}` } },
              podSelector: { matchLabels: { tier: 'web' } },
            },
          ],
          ports: [
            { protocol: 'TCP', port: 8080 },
            { protocol: 'TCP', port: 5432 },
          ],
        },
        {
          peers: [{ ipBlock: { cidr: '10.0.0.0/16', except: [`10.0.${k % 4}.0/24`] } }],
          ports: [{ protocol: 'TCP', port: 'http' }],
        },
      ],
      egress: [
        {
          peers: [{ podSelector: { matchLabels: { tier: 'db' } } }],
          ports: [{ protocol: 'TCP', port: 5432 }],
        },
        {
          peers: [{ ipBlock: { cidr: '10.0.0.0/8', except: [`10.0.${k % 4}.0/24`] } }],
          ports: [{ protocol: 'TCP', port: 8080 }],
        },
      ],
    });
  }
  const authorizationPolicies = new Map<string, AuthorizationPolicy>();
  for (let k = 0; k < AUTHZ; k++) {
    const ns = `ns${k % NAMESPACES}`;
    const action = k % 4 === 3 ? 'DENY' : k % 5 === 4 ? 'AUDIT' : 'ALLOW';
    authorizationPolicies.set(`${ns}/ap${k}`, {
      namespace: ns,
      name: `ap${k}`,
      apiVersion: 'security.istio.io/v1',
      selector: { matchLabels: { app: `a${k % 10}` } },
      action,
      rules: [
        {
          from: [src({ principals: [`cluster.local/ns/ns${(k + 5) % NAMESPACES}/sa/*`] })],
          to: [op({ ports: ['5432'] })],
        },
        {
          from: [src({ namespaces: ['ns1*', `ns${k % NAMESPACES}`] })],
          to: [op({ ports: ['8080'], methods: ['GET'], paths: ['/api/*'] })],
        },
        {
          from: [src({ notIpBlocks: ['10.0.3.0/24'] })],
          to: [op({ ports: ['8080'], paths: ['/admin'] })],
          when: [{ key: 'request.headers[x-team]', values: ['ops'], notValues: [] }],
        },
      ],
    });
  }
  return {
    version: 1,
    namespaces,
    pods,
    services: new Map(),
    networkPolicies,
    authorizationPolicies,
  };
}

type Authorize = typeof now;

interface Case {
  readonly name: string;
  readonly run: (i: number) => boolean;
}

async function main(): Promise<void> {
  const snap = cluster();
  const settings = { node: 'n1', trustDomain: 'cluster.local', rootNamespace: 'weft-system' };
  const t = compileNode(snap, settings);
  // What the decision tables add to a snapshot's compile, for the node's enrolled workloads.
  const enrolled = t.workloads.filter((w) => w.enrolled).map((w) => w.key);
  const compileMs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    compileDecisions(t.policy, t.services, enrolled);
    compileMs.push(performance.now() - t0);
  }
  const base = process.env.WEFT_BENCH_BASE
    ? ((await import(`${process.env.WEFT_BENCH_BASE}/agent/src/proxy/authorize.ts`)) as Authorize)
    : undefined;
  // The base's tables as its agent built them (its compilePolicy), so its own memos apply.
  const baseTables = process.env.WEFT_BENCH_BASE
    ? (
        (await import(`${process.env.WEFT_BENCH_BASE}/agent/src/compile/policy.ts`)) as {
          compilePolicy: (s: Snapshot, td: string, root: string) => typeof t.policy;
        }
      ).compilePolicy(snap, 'cluster.local', 'weft-system')
    : t.policy;
  const dst = 'ns0/p0'; // app a0, selected by NetworkPolicies and AuthorizationPolicies
  const from = [...snap.pods.values()].slice(0, 200).map((p) => {
    const id = `spiffe://cluster.local/ns/${p.namespace}/sa/${p.serviceAccountName}`;
    return { ip: p.podIP!, ...peerId(id) };
  });
  const reqs: AuthzRequest[] = [
    { method: 'GET', path: '/api/items?page=2', host: 'p0.ns0', headers: { accept: '*/*' } },
    { method: 'POST', path: '/admin', host: 'p0.ns0', headers: { 'x-team': 'dev' } },
  ];
  const inn = t.decisions.ingress.get(dst)!;
  const out = t.decisions.egress.get(dst)!;
  // Allowed and denied connections apart: a denial also asks the evaluator for its words.
  const split = <T>(xs: T[], allowed: (x: T) => boolean) => ({
    allowed: xs.filter(allowed),
    denied: xs.filter((x) => !allowed(x)),
  });
  const l4 = split(from, (s) => now.checkIngress(t.policy, dst, s, 5432).allow);
  const eg = split(from, (s) => now.checkEgress(t.policy, dst, s.ip, 5432).allow);
  const rq = split(
    from.flatMap((s) => reqs.map((r) => ({ s, r }))),
    (x) => now.checkRequest(t.policy, dst, x.s, 8080, x.r).allow,
  );
  const cases: Case[] = [];
  for (const verdict of ['allowed', 'denied'] as const) {
    const srcs = l4[verdict];
    const dsts = eg[verdict];
    const rs = rq[verdict];
    if (srcs.length === 0 || dsts.length === 0 || rs.length === 0)
      throw new Error(`no ${verdict} case: ${srcs.length}, ${dsts.length}, ${rs.length}`);
    const one = <T>(xs: T[], i: number) => xs[i % xs.length]!;
    cases.push(
      {
        name: `${verdict} connection, L4 (ingress NetworkPolicy + AuthorizationPolicy): lookup`,
        run: (i) => {
          portDecisions(inn, 5432);
          return decideIngress(inn, t.policy, dst, one(srcs, i), 5432).allow;
        },
      },
      {
        name: `${verdict} connection, L4: evaluator (uncached)`,
        run: (i) => {
          now.needsHttp(t.policy, dst, 5432);
          return now.checkIngress(t.policy, dst, one(srcs, i), 5432).allow;
        },
      },
      {
        name: `${verdict} connection, egress NetworkPolicy: lookup`,
        run: (i) => decideEgress(out, t.policy, dst, one(dsts, i).ip, 5432).allow,
      },
      {
        name: `${verdict} connection, egress NetworkPolicy: evaluator (uncached)`,
        run: (i) => now.checkEgress(t.policy, dst, one(dsts, i).ip, 5432).allow,
      },
      {
        name: `${verdict} HTTP request (AuthorizationPolicy): lookup`,
        run: (i) => {
          const { s, r } = one(rs, i);
          return decideRequest(portDecisions(inn, 8080), t.policy, dst, s, 8080, r).allow;
        },
      },
      {
        name: `${verdict} HTTP request: evaluator (uncached)`,
        run: (i) => {
          const { s, r } = one(rs, i);
          return now.checkRequest(t.policy, dst, s, 8080, r).allow;
        },
      },
    );
    if (base)
      cases.push(
        {
          name: `${verdict} connection, L4: base checkout (its per-connection path)`,
          run: (i) => {
            const s = one(srcs, i);
            const src = { ip: s.ip, identity: s.identity };
            const l7 = base.needsHttp(baseTables, dst, 5432);
            return base.checkIngress(baseTables, dst, src, 5432, l7 ? 'per-request' : undefined)
              .allow;
          },
        },
        {
          name: `${verdict} connection, egress NetworkPolicy: base checkout`,
          run: (i) => base.checkEgress(baseTables, dst, one(dsts, i).ip, 5432).allow,
        },
        {
          name: `${verdict} HTTP request: base checkout`,
          run: (i) => {
            const { s, r } = one(rs, i);
            return base.checkRequest(baseTables, dst, { ip: s.ip, identity: s.identity }, 8080, r)
              .allow;
          },
        },
      );
  }
  const ns = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    // Interleaved, and the order turned each round.
    const order = round % 2 === 0 ? cases : [...cases].reverse();
    for (const c of order) {
      for (let i = 0; i < 500; i++) c.run(i); // warm-up
      const t0 = process.hrtime.bigint();
      let allowed = 0;
      for (let i = 0; i < OPS; i++) if (c.run(i)) allowed++;
      ns.get(c.name)!.push(Number(process.hrtime.bigint() - t0) / OPS);
      if (allowed < 0) throw new Error('unreachable');
    }
  }
  process.stdout.write(
    `${PODS} pods, ${NETPOLS} NetworkPolicies, ${AUTHZ} AuthorizationPolicies; decision tables of the node's ${enrolled.length} enrolled workloads compiled in ${compileMs.map((x) => x.toFixed(1)).join(', ')} ms\n\n`,
  );
  process.stdout.write(`decision | ns per decision, median (all ${ROUNDS} rounds)\n--- | ---\n`);
  for (const [name, xs] of ns) {
    const sorted = [...xs].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    process.stdout.write(
      `${name} | ${Math.round(median)} (${xs.map((x) => Math.round(x)).join(', ')})\n`,
    );
  }
}

await main();
