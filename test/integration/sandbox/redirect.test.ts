// A 2-node sandbox: enrolled pods' connections go through the node proxies
// (ClusterIP and pod IP, across nodes, byte-identical), non-enrolled pods are
// untouched, and enrollment changes live affect new connections only.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { lastJson, runInPod } from '../../../agent/src/sandbox/exec.ts';
import { describePrivileged } from '../../support/privileged.ts';
import {
  sinkServer,
  type TestCluster,
  type TransferResult,
  testCluster,
  transferClient,
} from '../../support/sandbox.ts';
import { namespaces, workloads } from '../../support/shop.ts';

const MB10 = 10 * 1024 * 1024;

describePrivileged('redirection in a 2-node sandbox', () => {
  let c: TestCluster;
  let vip: string;
  let serverIP: string;
  let clientIP: string;
  const transfer = async (from: string, host: string, port: number, bytes: number) =>
    lastJson<TransferResult>(
      await runInPod(c.pod(from), transferClient(host, port, bytes), 30_000),
    );
  const counters = async () => ({
    out1: (await c.status('node-1')).proxy.outbound.accepted,
    in2: (await c.status('node-2')).proxy.inbound.accepted,
  });

  beforeAll(async () => {
    c = await testCluster('r', { 'ns.yaml': namespaces(true), 'pods.yaml': workloads });
    vip = c.sandbox.state.services['shop/server']!;
    serverIP = c.pod('shop/server').ip;
    clientIP = c.pod('shop/client').ip;
    await c.serve('shop/server', sinkServer(8080));
  }, 60_000);
  afterAll(async () => {
    expect(await c?.down()).toEqual([]);
  });

  it('reports the enrolled workloads and their listeners', async () => {
    const s = await c.status('node-1');
    const client = s.workloads.find((w) => w.key === 'shop/client');
    expect(client).toMatchObject({ enrolled: true, podIP: clientIP });
    expect(client?.listeners).toEqual(
      expect.arrayContaining(['outbound 127.0.0.1:15001', 'inbound 127.0.0.1:15006']),
    );
    expect(s.workloads.find((w) => w.key === 'outside/plain')).toMatchObject({ enrolled: false });
  });

  it('carries 10 MB to a Service ClusterIP on the other node, byte for byte', async () => {
    const before = await counters();
    const r = await transfer('shop/client', vip, 80, MB10);
    expect(r.error).toBeUndefined();
    expect(r.reply).toMatchObject({ bytes: MB10, sha256: r.sha256, local: `${serverIP}:8080` });
    // The app asked for the ClusterIP and getpeername says so.
    expect(r.peer).toBe(`${vip}:80`);
    // It arrived through the destination's proxy, which speaks from 127.0.0.6.
    expect(r.reply?.peer).toBe('127.0.0.6');
    const after = await counters();
    expect(after.out1).toBe(before.out1 + 1);
    expect(after.in2).toBe(before.in2 + 1);
  });

  it('carries 10 MB to a pod IP on the other node', async () => {
    const before = await counters();
    const r = await transfer('shop/client', serverIP, 8080, MB10);
    expect(r.reply).toMatchObject({ bytes: MB10, sha256: r.sha256 });
    expect(r.peer).toBe(`${serverIP}:8080`);
    expect((await counters()).out1).toBe(before.out1 + 1);
  });

  it('leaves a client outside the mesh untouched', async () => {
    const before = await counters();
    const r = await transfer('outside/plain', serverIP, 8080, 1024);
    expect(r.reply).toMatchObject({ bytes: 1024, sha256: r.sha256 });
    expect((await counters()).out1).toBe(before.out1);
  });

  it('unenrolls and re-enrolls live: new connections follow, established ones carry on', async () => {
    // A connection opened while enrolled, still sending after the change.
    const slow = runInPod(
      c.pod('shop/client'),
      `
import net from 'node:net';
const s = net.connect({ host: '${serverIP}', port: 8080, allowHalfOpen: true });
let reply = '';
s.on('connect', () => { s.write(Buffer.alloc(1000, 1)); setTimeout(() => s.end(Buffer.alloc(1000, 2)), 2500); });
s.on('data', (d) => { reply += d; });
s.on('end', () => console.log(JSON.stringify({ reply: JSON.parse(reply) })));
s.on('error', (e) => console.log(JSON.stringify({ error: e.code })));
`,
      30_000,
    );
    await new Promise((r) => setTimeout(r, 500));
    c.write('ns.yaml', namespaces(false));
    await expect
      .poll(async () => (await transfer('shop/client', serverIP, 8080, 10)).reply?.peer, {
        timeout: 5000,
        interval: 100,
      })
      .toBe(clientIP);
    const s = await c.status('node-1');
    expect(s.workloads.find((w) => w.key === 'shop/client')).toMatchObject({ enrolled: false });
    const established = lastJson<{ reply?: { bytes: number }; error?: string }>(await slow);
    expect(established).toEqual({ reply: expect.objectContaining({ bytes: 2000 }) });

    c.write('ns.yaml', namespaces(true));
    await expect
      .poll(async () => (await transfer('shop/client', serverIP, 8080, 10)).reply?.peer, {
        timeout: 5000,
        interval: 100,
      })
      .toBe('127.0.0.6');
  });
});
