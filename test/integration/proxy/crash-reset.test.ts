// A proxy that dies must not make a cut-off transfer look complete: with data
// in flight through the mesh, SIGKILL of an agent ends the apps' connections
// with a reset (ECONNRESET), never a clean end of stream. Both ways the proxy
// carries bytes: the kernel relay (plaintext to a pod outside the mesh), JavaScript
// joins to HBONE streams (mTLS between enrolled pods), and the L7 path (HTTP rules).
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describePrivileged } from '../../support/privileged.ts';
import { type TestCluster, testCluster } from '../../support/sandbox.ts';
import { docs, namespace, pod } from '../../support/shop.ts';

const manifests = docs(
  namespace('shop', 'weft.dev/mesh: enabled'),
  namespace('outside'),
  pod('shop', 'client', 'node-1'),
  pod('shop', 'server', 'node-2'),
  pod('outside', 'web', 'node-2'),
  pod('outside', 'browser', 'node-1'),
  pod('shop', 'api', 'node-2'),
  `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  rules:
  - to: [{operation: {ports: ["8080"], methods: ["GET"]}}]
`,
);

/** An HTTP answer whose chunked body never ends: 16 KiB every 5 ms. */
const streamingHttp = `
import http from 'node:http';
http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/octet-stream' });
  const chunk = Buffer.alloc(16384, 7);
  const t = setInterval(() => res.write(chunk), 5);
  res.on('close', () => clearInterval(t));
}).listen(8080, '0.0.0.0', () => console.log('listening'));
`;

/** Sends 16 KiB every 5 ms, for as long as the connection lasts. */
const streamingServer = (port: number) => `
import net from 'node:net';
net.createServer((s) => {
  const chunk = Buffer.alloc(16384, 7);
  const t = setInterval(() => s.write(chunk), 5);
  s.on('close', () => clearInterval(t));
  s.on('error', () => {});
}).listen(${port}, '0.0.0.0', () => console.log('listening'));
`;

/** Reads (after sending `ask`); says "listening" once 256 KiB arrived, then how the stream ended. */
const readingClient = (host: string, port: number, ask = '') => `
import net from 'node:net';
const s = net.connect({ host: '${host}', port: ${port} });
s.write(${JSON.stringify(ask)});
let n = 0;
let said = false;
s.on('data', (d) => {
  n += d.length;
  if (!said && n >= 262144) { said = true; console.log('listening'); }
});
s.on('end', () => { console.log(JSON.stringify({ ended: 'EOF', bytes: n })); process.exit(0); });
s.on('error', (e) => { console.log(JSON.stringify({ ended: e.code, bytes: n })); process.exit(0); });
setTimeout(() => { console.log(JSON.stringify({ ended: 'TIMEOUT', bytes: n })); process.exit(0); }, 30000);
`;

describePrivileged('a crashed agent resets the connections it carried', () => {
  let c: TestCluster;

  beforeAll(async () => {
    c = await testCluster('x', { 'all.yaml': manifests });
    await c.serve('shop/server', streamingServer(8080));
    await c.serve('outside/web', streamingServer(8080));
    await c.serve('shop/api', streamingHttp);
    await c.certificates(2);
  }, 60_000);
  afterAll(async () => {
    expect(await c?.down()).toEqual([]);
  });

  /** Starts a download in shop/client, kills `node`'s agent mid-transfer, says how it ended. */
  async function cutOff(
    server: string,
    node: string,
    from = 'shop/client',
    ask = '',
  ): Promise<{ ended: string; bytes: number }> {
    const client: ChildProcess = await c.serve(from, readingClient(c.pod(server).ip, 8080, ask));
    let out = '';
    client.stdout?.on('data', (d) => {
      out += d;
    });
    await c.sandbox.stopAgent(node, 'SIGKILL');
    await expect.poll(() => out.includes('"ended"'), { timeout: 20_000 }).toBe(true);
    const line = out.split('\n').find((l) => l.includes('"ended"'))!;
    await c.sandbox.startAgent(node);
    await c.certificates(2);
    return JSON.parse(line);
  }

  it('plaintext through the kernel relay: the client node agent dies', async () => {
    const r = await cutOff('outside/web', 'node-1');
    expect(r.bytes).toBeGreaterThanOrEqual(262144);
    expect(r.ended).toBe('ECONNRESET');
  });

  it('mTLS through HBONE: the client node agent dies', async () => {
    const r = await cutOff('shop/server', 'node-1');
    expect(r.bytes).toBeGreaterThanOrEqual(262144);
    expect(r.ended).toBe('ECONNRESET');
  });

  it('mTLS through HBONE: the server node agent dies', async () => {
    const r = await cutOff('shop/server', 'node-2');
    expect(r.bytes).toBeGreaterThanOrEqual(262144);
    expect(r.ended).toBe('ECONNRESET');
  });

  it('HTTP on the L7 path, from outside the mesh: the server node agent dies mid-response', async () => {
    const r = await cutOff(
      'shop/api',
      'node-2',
      'outside/browser',
      'GET / HTTP/1.1\r\nHost: api\r\n\r\n',
    );
    expect(r.bytes).toBeGreaterThanOrEqual(262144);
    expect(r.ended).toBe('ECONNRESET');
  });
});
