// The policy matrix with HTTP requests: 3 namespaces × 3 pods × 2 ports in a
// 2-node sandbox, every pod serving HTTP on both ports, under
// AuthorizationPolicies with HTTP rules (methods, exact/prefix/suffix paths,
// notMethods, ports; ALLOW and DENY) and NetworkPolicies. Every pod sends
// GET and POST requests to allowed and denied paths of every other pod, each
// on a new connection, and for every one of them `weft policy trace --http`
// (the shared evaluator) must foretell what happened: 200, 403 (HTTP rules,
// connection kept), or a refused/reset connection (NetworkPolicy, L4 denial).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Trace, tracePolicy } from '../../../agent/src/policy/trace.ts';
import { lastJson, runInPod } from '../../../agent/src/sandbox/exec.ts';
import { loadManifests } from '../../../agent/src/sources/manifests/load.ts';
import { describePrivileged } from '../../support/privileged.ts';
import { type TestCluster, testCluster } from '../../support/sandbox.ts';

const NS = ['x', 'y', 'z'];
const PODS = ['a', 'b', 'c'];
const PORTS = [80, 81];
const REQUESTS: [string, string][] = [
  ['GET', '/public/1'],
  ['POST', '/admin'],
  ['GET', '/notes.txt'],
];

const namespaces = NS.map(
  (n) => `apiVersion: v1
kind: Namespace
metadata: {name: ${n}, labels: {team: ${n}${n === 'z' ? '' : ', weft.dev/mesh: enabled'}}}
`,
).join('---\n');

const pods = NS.flatMap((n, i) =>
  PODS.map(
    (p, j) => `apiVersion: v1
kind: Pod
metadata: {name: ${p}, namespace: ${n}, labels: {pod: ${p}}}
spec:
  nodeName: node-${((i + j) % 2) + 1}
  serviceAccountName: ${p}
  containers: [{name: s, ports: [{containerPort: 80}, {containerPort: 81}]}]
`,
  ),
).join('---\n');

const policies = `
# x/a: GETs under /public/ from mesh namespaces x and y; POST /admin (exact) from y/b only.
apiVersion: security.weft.dev/v1alpha1
kind: AuthorizationPolicy
metadata: {name: xa-http, namespace: x}
spec:
  selector: {matchLabels: {pod: a}}
  action: ALLOW
  rules:
  - from: [{source: {namespaces: ["x", "y"]}}]
    to: [{operation: {methods: ["GET"], paths: ["/public/*"]}}]
  - from: [{source: {principals: ["cluster.local/ns/y/sa/b"]}}]
    to: [{operation: {methods: ["POST"], paths: ["/admin"]}}]
---
# y/b: any source may read *.txt on port 80; its own namespace anything but POST.
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: yb-http, namespace: y}
spec:
  selector: {matchLabels: {pod: b}}
  rules:
  - to: [{operation: {paths: ["*.txt"], ports: ["80"]}}]
  - from: [{source: {namespaces: ["y"]}}]
    to: [{operation: {notMethods: ["POST"]}}]
---
# y/c: no POST under /admin from outside namespace x; everything else is allowed.
apiVersion: security.weft.dev/v1alpha1
kind: AuthorizationPolicy
metadata: {name: yc-no-admin, namespace: y}
spec:
  selector: {matchLabels: {pod: c}}
  action: DENY
  rules:
  - from: [{source: {notNamespaces: ["x"]}}]
    to: [{operation: {methods: ["POST"], paths: ["/admin*"]}}]
---
# x/c: L4 only, mesh peers of namespace x (no HTTP rules: denial is at the connection).
apiVersion: security.weft.dev/v1alpha1
kind: AuthorizationPolicy
metadata: {name: xc-l4, namespace: x}
spec:
  selector: {matchLabels: {pod: c}}
  rules:
  - from: [{source: {namespaces: ["x"]}}]
---
# x/b: from namespaces x and z only, port 80 only.
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: xb-in, namespace: x}
spec:
  podSelector: {matchLabels: {pod: b}}
  ingress:
  - from: [{namespaceSelector: {matchExpressions: [{key: team, operator: In, values: [x, z]}]}}]
    ports: [{port: 80}]
---
# y/a may reach namespace x on port 80 and nothing else.
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ya-out, namespace: y}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {matchLabels: {team: x}}}]
    ports: [{port: 80}]
`;

/** Workloads whose AuthorizationPolicies have HTTP rules: their denials are 403s. */
const L7 = new Set(['x/a', 'y/b', 'y/c']);

const server = `
import http from 'node:http';
for (const port of [80, 81]) {
  http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('ok ' + req.method + ' ' + req.url));
  }).listen(port, '0.0.0.0', () => { if (port === 81) console.log('listening'); });
}
`;

type Outcome = 200 | 403 | 'refused';

/** Each request on a connection of its own, all at once; prints [status or error code]. */
const client = (targets: { ip: string; port: number; method: string; path: string }[]) => `
import http from 'node:http';
const targets = ${JSON.stringify(targets)};
const one = (t) => new Promise((resolve) => {
  const req = http.request({ host: t.ip, port: t.port, method: t.method, path: t.path, agent: false }, (res) => {
    let b = ''; res.on('data', (d) => { b += d; }); res.on('end', () => resolve([res.statusCode, b]));
    res.on('error', (e) => resolve([0, e.code]));
  });
  req.setTimeout(10000, () => { req.destroy(); resolve([0, 'TIMEOUT']); });
  req.on('error', (e) => resolve([0, e.code ?? e.message]));
  req.end();
});
console.log(JSON.stringify(await Promise.all(targets.map(one))));
`;

/** What the trace says the request gets. */
function expected(t: Trace, to: string): Outcome {
  if (t.verdict === 'allow') return 200;
  const first = t.stages.find((s) => s.result === 'deny')!;
  const byAuthz = first.stage.startsWith('AuthorizationPolicy') || first.stage === 'L7';
  return byAuthz && L7.has(to) ? 403 : 'refused';
}

describePrivileged('policy matrix with HTTP requests: 3 namespaces × 3 pods × 2 ports', () => {
  let c: TestCluster;
  const keys = NS.flatMap((n) => PODS.map((p) => `${n}/${p}`));

  beforeAll(async () => {
    c = await testCluster('w', {
      'ns.yaml': namespaces,
      'pods.yaml': pods,
      'policies.yaml': policies,
    });
    for (const k of keys) await c.serve(k, server);
    // Every mesh pod holds a certificate before the first request.
    await c.certificates(6);
  }, 120_000);
  afterAll(async () => {
    expect(await c?.down()).toEqual([]);
  });

  it('gets from every request what policy trace --http says', async () => {
    const m = loadManifests([c.sandbox.state.resolvedDir]);
    expect(m.errors).toEqual([]);
    const results = await Promise.all(
      keys.map(async (from) => {
        const targets = keys
          .filter((to) => to !== from)
          .flatMap((to) =>
            PORTS.flatMap((port) =>
              REQUESTS.map(([method, path]) => ({ to, ip: c.pod(to).ip, port, method, path })),
            ),
          );
        const got = lastJson<[number, string][]>(
          await runInPod(c.pod(from), client(targets), 60_000),
        );
        return targets.map((t, i) => ({ from, ...t, got: got[i]! }));
      }),
    );
    const mismatches: string[] = [];
    const counts = { 200: 0, 403: 0, refused: 0 };
    for (const r of results.flat()) {
      const t = tracePolicy({
        cluster: m.cluster,
        trustDomain: 'cluster.local',
        rootNamespace: 'weft-system',
        from: r.from,
        to: r.to,
        port: r.port,
        http: { method: r.method, path: r.path, host: `${r.ip}:${r.port}`, headers: {} },
      });
      const [status, body] = r.got;
      const did: Outcome | 'other' =
        status === 200 && body === `ok ${r.method} ${r.path}`
          ? 200
          : status === 403
            ? 403
            : status === 0
              ? 'refused'
              : 'other';
      const want = expected(t, r.to);
      if (did !== 'other') counts[did]++;
      if (did !== want) {
        const why = t.stages
          .filter((s) => s.result === 'deny')
          .map((s) => `${s.stage}: ${s.reason}`);
        mismatches.push(
          `${r.from} → ${r.to}:${r.port} ${r.method} ${r.path}: got ${status} ${body}, trace ${t.verdict} (expected ${want}) ${why.join(' | ')}`,
        );
      }
    }
    expect(mismatches).toEqual([]);
    // All three outcomes occur in earnest.
    expect(counts[200]).toBeGreaterThan(50);
    expect(counts[403]).toBeGreaterThan(20);
    expect(counts.refused).toBeGreaterThan(20);
  }, 180_000);
});
