// A peer node that stops answering: its agent is frozen (SIGSTOP), so its
// kernel still ACKs the HBONE connection and only HTTP/2 PINGs can tell. The
// client node's agent drops the session and the app's open connection is
// reset, instead of hanging until TCP gives up. Once the peer is back, the
// next connection gets a fresh session.
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { lastJson, runInPod, spawnInPod } from '../../../agent/src/sandbox/exec.ts';
import { describePrivileged } from '../../support/privileged.ts';
import {
  sinkServer,
  type TestCluster,
  type TransferResult,
  testCluster,
  transferClient,
} from '../../support/sandbox.ts';
import { namespaces, workloads } from '../../support/shop.ts';

const KEEPALIVE_S = 0.3;

/** Echoes whatever it reads, forever. */
const echoServer = (port: number) => `
import net from 'node:net';
net.createServer((s) => { s.on('error', () => {}); s.pipe(s); })
  .listen(${port}, '0.0.0.0', () => console.log('listening'));
`;

/** Opens one connection, sends a line, and reports each event as a JSON line. */
const holdingClient = (host: string, port: number) => `
import net from 'node:net';
const say = (o) => console.log(JSON.stringify({ ...o, t: Date.now() }));
const s = net.connect(${port}, ${JSON.stringify(host)}, () => s.write('ping'));
s.on('data', (d) => say({ event: 'data', text: String(d) }));
s.on('error', (e) => say({ event: 'error', code: e.code }));
s.on('close', () => { say({ event: 'close' }); process.exit(0); });
`;

describePrivileged('HBONE keepalive across nodes', () => {
  let c: TestCluster;
  let serverIP: string;
  let frozen: number | null = null;
  let client: ChildProcess | undefined;

  beforeAll(async () => {
    c = await testCluster('z', { 'ns.yaml': namespaces(true), 'pods.yaml': workloads }, 2, {
      hboneKeepaliveSeconds: KEEPALIVE_S,
    });
    serverIP = c.pod('shop/server').ip;
    await c.serve('shop/server', echoServer(9090));
    await c.serve('shop/server', sinkServer(8080));
    await c.certificates(2);
  }, 60_000);
  afterAll(async () => {
    client?.kill('SIGKILL');
    if (frozen) process.kill(frozen, 'SIGCONT');
    expect(await c?.down()).toEqual([]);
  });

  it('resets an open connection whose peer agent froze, then serves again once it is back', async () => {
    client = spawnInPod(c.pod('shop/client'), holdingClient(serverIP, 9090));
    const events: { event: string; code?: string; text?: string; t: number }[] = [];
    let buffered = '';
    client.stdout!.on('data', (d) => {
      buffered += d;
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const l of lines) if (l.trim()) events.push(JSON.parse(l));
    });
    const until = async (what: string, ms: number) => {
      for (const end = Date.now() + ms; Date.now() < end; ) {
        if (events.some((e) => e.event === what)) return;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`no '${what}' within ${ms} ms: ${JSON.stringify(events)}`);
    };
    await until('data', 15_000);
    expect(events[0]).toMatchObject({ event: 'data', text: 'ping' });
    // The connection went through HBONE: node-1 holds a session to node-2.
    expect((await c.status('node-1')).proxy.outbound.accepted).toBeGreaterThanOrEqual(1);

    frozen = c.sandbox.state.nodes.find((n) => n.name === 'node-2')!.agentPid;
    const stoppedAt = Date.now();
    process.kill(frozen!, 'SIGSTOP');
    await until('close', 15_000);
    const ended = events.filter((e) => e.event !== 'data');
    expect(ended.map((e) => e.event)).toEqual(['error', 'close']);
    expect(ended[0]!.code).toBe('ECONNRESET');
    // One interval to send the PING, one to give up on it, and room for a busy machine.
    expect(ended[0]!.t - stoppedAt).toBeLessThan(10_000);

    process.kill(frozen!, 'SIGCONT');
    frozen = null;
    const r = lastJson<TransferResult>(
      await runInPod(c.pod('shop/client'), transferClient(serverIP, 8080, 4096), 30_000),
    );
    expect(r.reply?.bytes).toBe(4096);
  }, 60_000);
});
