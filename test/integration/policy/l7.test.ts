// HTTP rules of AuthorizationPolicy, per request: GET passes, POST gets 403 on
// the same kept-alive connection; across nodes (HBONE) and on the same node
// (hand-off); and `weft policy trace --http` says the same.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadManifests } from '../../../agent/src/policy/load.ts';
import { tracePolicy } from '../../../agent/src/policy/trace.ts';
import { lastJson, runInPod } from '../../../agent/src/sandbox/exec.ts';
import { describePrivileged } from '../../support/privileged.ts';
import { type TestCluster, testCluster } from '../../support/sandbox.ts';

const manifests = `
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {weft.dev/mesh: enabled}}
---
apiVersion: v1
kind: Pod
metadata: {name: frontend, namespace: shop, labels: {app: frontend}}
spec: {nodeName: node-1, serviceAccountName: frontend, containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: neighbour, namespace: shop, labels: {app: neighbour}}
spec: {nodeName: node-2, serviceAccountName: frontend, containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: cart, namespace: shop, labels: {app: cart}}
spec: {nodeName: node-2, serviceAccountName: cart, containers: [{name: s, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: security.weft.dev/v1alpha1
kind: AuthorizationPolicy
metadata: {name: cart-reads, namespace: shop}
spec:
  selector: {matchLabels: {app: cart}}
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/shop/sa/frontend"]}}]
    to: [{operation: {methods: ["GET"], paths: ["/items*"]}}]
`;

const httpServer = `
import http from 'node:http';
let conns = 0;
http
  .createServer((req, res) => res.end(req.url === '/items/conns' ? 'conns ' + conns : 'app: ' + req.method + ' ' + req.url))
  .on('connection', () => conns++)
  .listen(8080, '0.0.0.0', () => console.log('listening'));
`;

/** Three requests on one kept-alive connection; prints each status and body. */
const client = (host: string) => `
import http from 'node:http';
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const one = (method, path) => new Promise((resolve) => {
  const req = http.request({ host: '${host}', port: 8080, method, path, agent }, (res) => {
    let b = ''; res.on('data', (d) => { b += d; }); res.on('end', () => resolve([res.statusCode, b.trim()]));
  });
  req.on('error', (e) => resolve([0, e.code]));
  req.end();
});
const conns = async () => Number((await one('GET', '/items/conns'))[1].split(' ')[1]);
const before = await conns();
const out = [];
out.push(await one('GET', '/items/1'));
out.push(await one('POST', '/items/1'));
out.push(await one('GET', '/items/2'));
const opened = (await conns()) - before;
console.log(JSON.stringify({ out, opened, sockets: Object.values(agent.freeSockets).flat().length }));
agent.destroy();
`;

describePrivileged('HTTP rules of AuthorizationPolicy', () => {
  let c: TestCluster;

  beforeAll(async () => {
    c = await testCluster('h', { 'shop.yaml': manifests });
    await c.serve('shop/cart', httpServer);
    for (let i = 0; i < 200; i++) {
      const ids = [
        ...(await c.status('node-1')).identities,
        ...(await c.status('node-2')).identities,
      ];
      if (ids.length >= 3 && ids.every((x) => x.serial)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  }, 60_000);
  afterAll(async () => {
    expect(await c?.down()).toEqual([]);
  });

  it.each([
    ['shop/frontend', 'across nodes over HBONE'],
    ['shop/neighbour', 'on the same node by hand-off'],
  ])('answers GET and 403s POST on one kept-alive connection from %s (%s)', async (from) => {
    const r = lastJson<{ out: [number, string][]; opened: number; sockets: number }>(
      await runInPod(c.pod(from), client(c.pod('shop/cart').ip), 30_000),
    );
    expect(r.out).toEqual([
      [200, 'app: GET /items/1'],
      [403, 'RBAC: access denied'],
      [200, 'app: GET /items/2'],
    ]);
    // The client's connection stays open, and the proxy reuses its connection to the app.
    expect(r.sockets).toBe(1);
    expect(r.opened).toBe(0);
  });

  it('agrees with policy trace --http', () => {
    const m = loadManifests([c.sandbox.state.resolvedDir]);
    const trace = (method: string) =>
      tracePolicy({
        cluster: m.cluster,
        trustDomain: 'cluster.local',
        rootNamespace: 'weft-system',
        from: 'shop/frontend',
        to: 'shop/cart',
        port: 8080,
        http: { method, path: '/items/1', host: 'cart', headers: {} },
      }).verdict;
    expect([trace('GET'), trace('POST')]).toEqual(['allow', 'deny']);
  });
});
