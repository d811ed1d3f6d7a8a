// L7 is per (workload, port): an HTTP rule for 8080 reads 8080 request by request and
// leaves 9090 of the same pod byte for byte, even for a protocol where the server speaks
// first; on every way in (HBONE across nodes, same-node hand-off, plaintext).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { lastJson, runInPod } from '../../../agent/src/sandbox/exec.ts';
import { describePrivileged } from '../../support/privileged.ts';
import { type TestCluster, testCluster } from '../../support/sandbox.ts';
import { docs, namespace, pod } from '../../support/shop.ts';

const manifests = `${docs(
  namespace('shop', 'weft.dev/mesh: enabled'),
  namespace('outside'),
  pod('shop', 'frontend', 'node-1', { sa: 'frontend' }),
  pod('shop', 'neighbour', 'node-2', { sa: 'frontend' }),
  pod('outside', 'plain', 'node-1'),
  pod('shop', 'cart', 'node-2', {
    sa: 'cart',
    ports: '{name: http, containerPort: 8080}, {containerPort: 9090}',
  }),
)}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: cart, namespace: shop}
spec:
  selector: {matchLabels: {app: cart}}
  rules:
  - to: [{operation: {ports: ["8080"], methods: ["GET"]}}]
  - to: [{operation: {ports: ["9090"]}}]
`;

// 8080 answers HTTP; 9090 greets first, then echoes every byte until the client half-closes.
const servers = `
import http from 'node:http';
import net from 'node:net';
http.createServer((req, res) => { req.resume(); req.on('end', () => res.end('app: ' + req.method)); })
  .listen(8080, '0.0.0.0', () => {
    net.createServer((s) => { s.write('BANNER weft 1\\r\\n'); s.pipe(s); s.on('error', () => {}); })
      .listen(9090, '0.0.0.0', () => console.log('listening'));
  });
`;

const banner = (host: string) => `
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
const payload = randomBytes(200000);
const s = net.connect({ host: '${host}', port: 9090 });
let got = Buffer.alloc(0);
let greeted;
s.setTimeout(10000, () => { console.log(JSON.stringify({ error: 'TIMEOUT', greeted })); process.exit(0); });
s.on('data', (d) => {
  got = Buffer.concat([got, d]);
  if (greeted === undefined && got.includes('\\r\\n')) {
    greeted = got.subarray(0, got.indexOf('\\r\\n')).toString();
    got = got.subarray(got.indexOf('\\r\\n') + 2);
    s.end(payload);
  }
});
s.on('end', () => {
  const h = (b) => createHash('sha256').update(b).digest('hex');
  console.log(JSON.stringify({ greeted, same: h(got) === h(payload), bytes: got.length }));
});
s.on('error', (e) => console.log(JSON.stringify({ error: e.code, greeted })));
`;

const http = (host: string) => `
import http from 'node:http';
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const one = (method) => new Promise((resolve) => {
  const req = http.request({ host: '${host}', port: 8080, method, path: '/x', agent }, (res) => {
    let b = ''; res.on('data', (d) => { b += d; }); res.on('end', () => resolve([res.statusCode, b.trim()]));
  });
  req.on('error', (e) => resolve([0, e.code]));
  req.end();
});
console.log(JSON.stringify([await one('GET'), await one('POST'), await one('GET')]));
agent.destroy();
`;

describePrivileged('HTTP rules apply per port', () => {
  let c: TestCluster;

  beforeAll(async () => {
    c = await testCluster('lp', { 'shop.yaml': manifests });
    await c.serve('shop/cart', servers);
    await c.certificates(3);
  }, 60_000);
  afterAll(async () => {
    expect(await c?.down()).toEqual([]);
  });

  it.each([
    ['shop/frontend', 'across nodes over HBONE'],
    ['shop/neighbour', 'on the same node by hand-off'],
    ['outside/plain', 'in plaintext'],
  ])('passes 9090 byte for byte and reads 8080 per request from %s (%s)', async (from) => {
    const cart = c.pod('shop/cart').ip;
    expect(lastJson(await runInPod(c.pod(from), banner(cart), 30_000))).toEqual({
      greeted: 'BANNER weft 1',
      same: true,
      bytes: 200000,
    });
    expect(lastJson(await runInPod(c.pod(from), http(cart), 30_000))).toEqual([
      [200, 'app: GET'],
      [403, 'RBAC: access denied'],
      [200, 'app: GET'],
    ]);
  });
});
