// HTTP rules of AuthorizationPolicy, per request: GET passes, POST gets 403 on
// the same kept-alive connection; across nodes (HBONE) and on the same node
// (hand-off); and `weft policy trace --http` says the same.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { adminGet } from '../../../agent/src/admin/client.ts';
import { tracePolicy } from '../../../agent/src/policy/trace.ts';
import { lastJson, runInPod } from '../../../agent/src/sandbox/exec.ts';
import { loadManifests } from '../../../agent/src/sources/manifests/load.ts';
import { describePrivileged } from '../../support/privileged.ts';
import { type TestCluster, testCluster } from '../../support/sandbox.ts';
import { docs, namespace, pod } from '../../support/shop.ts';

const manifests = `${docs(
  namespace('shop', 'weft.dev/mesh: enabled'),
  pod('shop', 'frontend', 'node-1', { sa: 'frontend' }),
  pod('shop', 'neighbour', 'node-2', { sa: 'frontend' }),
  pod('shop', 'cart', 'node-2', { sa: 'cart', ports: '{name: http, containerPort: 8080}' }),
)}---
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
const seen = [];
http
  .createServer((req, res) => {
    if (req.url === '/items/conns') return res.end('conns ' + conns);
    if (req.url === '/items/seen') return res.end(JSON.stringify(seen));
    if (req.url === '/items/slow') return setTimeout(() => res.end('slow'), 300);
    seen.push(req.method + ' ' + req.url);
    req.resume();
    req.on('end', () => res.end('app: ' + req.method + ' ' + req.url));
  })
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

/** Raw requests, one after another on one connection; prints each response's status and body. */
const raw = (host: string, requests: string[]) => `
import net from 'node:net';
const s = net.connect({ host: '${host}', port: 8080 });
const reqs = ${JSON.stringify(requests)};
const out = [];
let buf = Buffer.alloc(0);
const CRLF = Buffer.from('\\r\\n');
// One response off the front of buf: [status, body, bytes used], or undefined if incomplete.
function take() {
  const head = buf.indexOf('\\r\\n\\r\\n');
  if (head < 0) return;
  const h = buf.subarray(0, head).toString();
  const status = Number(h.slice(9, 12));
  let at = head + 4;
  if (/transfer-encoding: *chunked/i.test(h)) {
    let body = '';
    for (;;) {
      const eol = buf.indexOf(CRLF, at);
      if (eol < 0) return;
      const n = Number.parseInt(buf.subarray(at, eol).toString(), 16);
      if (buf.length < eol + 2 + n + 2) return;
      body += buf.subarray(eol + 2, eol + 2 + n).toString();
      at = eol + 2 + n + 2;
      if (n === 0) return [status, body.trim(), at];
    }
  }
  const len = Number((/content-length: *(\\d+)/i.exec(h) ?? [0, 0])[1]);
  if (buf.length < at + len) return;
  return [status, buf.subarray(at, at + len).toString().trim(), at + len];
}
s.setTimeout(10000, () => { console.log(JSON.stringify({ out, error: 'TIMEOUT' })); process.exit(0); });
s.on('data', (d) => {
  buf = Buffer.concat([buf, d]);
  for (let r = take(); r; r = take()) {
    out.push([r[0], r[1]]);
    buf = buf.subarray(r[2]);
    if (out.length === reqs.length) { console.log(JSON.stringify({ out })); s.destroy(); return; }
    s.write(reqs[out.length]);
  }
});
s.on('connect', () => s.write(reqs[0]));
s.on('error', (e) => console.log(JSON.stringify({ out, error: e.code })));
`;

describePrivileged('HTTP rules of AuthorizationPolicy', () => {
  let c: TestCluster;

  beforeAll(async () => {
    c = await testCluster('h', { 'shop.yaml': manifests });
    await c.serve('shop/cart', httpServer);
    await c.certificates(3);
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

  it('logs request paths without their query strings', async () => {
    const r = lastJson<{ out: [number, string][] }>(
      await runInPod(
        c.pod('shop/frontend'),
        raw(c.pod('shop/cart').ip, [
          'GET /items/q?token=s3cret HTTP/1.1\r\nhost: cart\r\n\r\n',
          'POST /items/q?token=s3cret HTTP/1.1\r\nhost: cart\r\ncontent-length: 0\r\n\r\n',
        ]),
        30_000,
      ),
    );
    expect(r.out).toEqual([
      [200, 'app: GET /items/q?token=s3cret'],
      [403, 'RBAC: access denied'],
    ]);
    const node2 = c.sandbox.state.nodes.find((n) => n.name === 'node-2')!.adminSocket;
    const log = await adminGet<{ detail?: string }[]>(node2, '/access-log');
    const details = log.map((e) => e.detail ?? '');
    expect(details).toContain('GET /items/q?…');
    expect(details.some((d) => d.startsWith('POST /items/q?…: denied'))).toBe(true);
    expect(JSON.stringify(log)).not.toContain('s3cret');
  });

  it('reads the target as the app will: a dotted path is the path it resolves to', async () => {
    const r = lastJson<{ out: [number, string][] }>(
      await runInPod(
        c.pod('shop/frontend'),
        raw(c.pod('shop/cart').ip, [
          'GET /items/../admin HTTP/1.1\r\nHost: cart\r\n\r\n',
          'GET //items/%31 HTTP/1.1\r\nHost: cart\r\n\r\n',
        ]),
      ),
    );
    expect(r.out).toEqual([
      [403, 'RBAC: access denied'],
      [200, 'app: GET /items/1'],
    ]);
  });

  it('keeps a chunked body a body: no request smuggled to the app behind an allowed one', async () => {
    const smuggled = 'POST /items/smuggled HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n';
    const chunk = `${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`;
    const r = lastJson<{ out: [number, string][] }>(
      await runInPod(
        c.pod('shop/frontend'),
        raw(c.pod('shop/cart').ip, [
          `GET /items/3 HTTP/1.1\r\nHost: cart\r\nTransfer-Encoding: chunked\r\n\r\n${chunk}`,
          'GET /items/seen HTTP/1.1\r\nHost: cart\r\n\r\n',
        ]),
      ),
    );
    expect(r.out[0]).toEqual([200, 'app: GET /items/3']);
    expect(JSON.parse(r.out[1]![1]) as string[]).not.toContain('POST /items/smuggled');
  });

  it('survives a client that leaves before the app answers', async () => {
    const cart = c.pod('shop/cart').ip;
    const leave = `
import net from 'node:net';
const s = net.connect({ host: '${cart}', port: 8080 }, () => {
  s.write('GET /items/slow HTTP/1.1\\r\\nHost: cart\\r\\n\\r\\n');
  setTimeout(() => { s.destroy(); console.log(JSON.stringify({ left: true })); }, 50);
});
s.on('error', () => {});
`;
    for (const from of ['shop/frontend', 'shop/neighbour']) {
      expect(lastJson<{ left: boolean }>(await runInPod(c.pod(from), leave))).toEqual({
        left: true,
      });
    }
    // The app answers after they left; the proxy must still be there for the next request.
    await new Promise((r) => setTimeout(r, 400));
    const r = lastJson<{ out: [number, string][] }>(
      await runInPod(
        c.pod('shop/frontend'),
        raw(cart, ['GET /items/9 HTTP/1.1\r\nHost: cart\r\n\r\n']),
      ),
    );
    expect(r.out).toEqual([[200, 'app: GET /items/9']]);
    expect((await c.status('node-2')).workloads.length).toBeGreaterThan(0);
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
