// The hitless agent upgrade: both nodes' agents are replaced in turn (a new agent takes
// over the old one's sockets, the old one drains) under long-lived connections over
// HBONE, to a pod on the same node, and plaintext to a pod outside the mesh, each
// exchanging a message every 100 ms, and a new connection every 50 ms. Nothing may be
// reset, lost, reordered or refused. The same with --kill fails closed instead.
import type { ChildProcess } from 'node:child_process';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawnInPod } from '../../../agent/src/sandbox/exec.ts';
import { describePrivileged } from '../../support/privileged.ts';
import { type TestCluster, testCluster } from '../../support/sandbox.ts';
import { docs, namespace, pod } from '../../support/shop.ts';
import {
  echoServer,
  type LoadResult,
  type LoadTarget,
  loadClient,
} from '../../support/upgrade-load.ts';

// The numbers: 100 connections per kind, a message each every 100 ms, a new
// connection every 50 ms.
const PER_KIND = 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const manifests = docs(
  namespace('shop', 'weft.dev/mesh: enabled'),
  namespace('outside'),
  pod('shop', 'client', 'node-1'),
  pod('shop', 'near', 'node-1', { ports: '{containerPort: 8080}' }),
  pod('shop', 'far', 'node-2', { ports: '{containerPort: 8080}' }),
  pod('outside', 'plain', 'node-2', { ports: '{containerPort: 8080}' }),
  pod('shop', 'web', 'node-2', { ports: '{containerPort: 8081}' }),
  // An HTTP rule puts web's port on the L7 path: requests are parsed and answered there.
  `apiVersion: security.weft.dev/v1alpha1
kind: AuthorizationPolicy
metadata: {name: web-reads, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  action: ALLOW
  rules:
  - to: [{operation: {methods: ["GET"]}}]
`,
);

/** A web server, and a client that GETs every 50 ms over kept-alive connections until SIGTERM. */
const webServer = `
import http from 'node:http';
http.createServer((req, res) => res.end('ok')).listen(8081, '0.0.0.0', () => console.log('listening'));
`;
const keptAliveClient = (host: string) => `
import http from 'node:http';
const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
const sockets = new Set();
const res0 = { ok: 0, failed: 0, errors: [], connections: 0 };
const tick = setInterval(() => {
  const req = http.get({ host: '${host}', port: 8081, path: '/', agent }, (res) => {
    sockets.add(res.socket);
    res.resume();
    res.on('end', () => { if (res.statusCode === 200) res0.ok++; else { res0.failed++; res0.errors.push(res.statusCode); } });
  });
  req.on('error', (e) => { res0.failed++; if (res0.errors.length < 10) res0.errors.push(e.code ?? e.message); });
}, 50);
console.log('started');
process.on('SIGTERM', () => {
  clearInterval(tick);
  setTimeout(() => { res0.connections = sockets.size; console.log(JSON.stringify(res0)); process.exit(0); }, 500);
});
`;

describePrivileged('hitless agent upgrade', () => {
  let c: TestCluster;
  let targets: LoadTarget[];
  const clients: ChildProcess[] = [];

  beforeAll(async () => {
    c = await testCluster('u', { 'm.yaml': manifests }, 2, {
      agentArgs: ['--drain-grace', '40'],
    });
    await c.certificates(2);
    for (const k of ['shop/near', 'shop/far', 'outside/plain']) await c.serve(k, echoServer(8080));
    await c.serve('shop/web', webServer);
    targets = [
      { name: 'hbone', host: c.pod('shop/far').ip, port: 8080, count: PER_KIND },
      { name: 'same-node', host: c.pod('shop/near').ip, port: 8080, count: PER_KIND },
      { name: 'plaintext', host: c.pod('outside/plain').ip, port: 8080, count: PER_KIND },
    ];
  }, 60_000);
  afterAll(async () => {
    for (const p of clients) p.kill('SIGKILL');
    if (process.env.WEFT_KEEP_LOGS)
      for (const n of c?.sandbox.state.nodes ?? [])
        cpSync(n.log, join(process.env.WEFT_KEEP_LOGS, `${n.name}.log`));
    await c?.down();
  });

  /** Starts the load in the client pod; resolves once every connection has had an echo. */
  async function startLoad(): Promise<() => Promise<LoadResult>> {
    const p = spawnInPod(c.pod('shop/client'), loadClient(targets, 100, 50));
    clients.push(p);
    let out = '';
    let err = '';
    p.stdout!.on('data', (d) => {
      out += d;
    });
    p.stderr!.on('data', (d) => {
      err += d;
    });
    for (let i = 0; i < 600 && !out.includes('ready'); i++) {
      if (p.exitCode !== null) throw new Error(`load client exited: ${out}${err}`);
      await sleep(50);
    }
    if (!out.includes('ready')) throw new Error(`load client not ready: ${out}${err}`);
    return async () => {
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await exited;
      const line = out.trim().split('\n').pop()!;
      return JSON.parse(line) as LoadResult;
    };
  }

  it('restarts both agents in turn: no reset, no byte lost or reordered, nothing refused', async () => {
    const stop = await startLoad();
    const before = await c.status('node-1');
    expect(before.lifecycle?.generation).toBe(1);
    // node-1 (the client's, HBONE client side and same-node) and then node-2 (HBONE server).
    const r1 = c.sandbox.restartAgent('node-1');
    await waitTakenOver('node-1', 2);
    const s1 = await c.status('node-1');
    expect(s1.lifecycle?.handover).toMatchObject({ listenersTaken: expect.any(Number) });
    await sleep(1000);
    const r2 = c.sandbox.restartAgent('node-2');
    await waitTakenOver('node-2', 2);
    await sleep(1000);
    const res = await stop();
    // The old agents drain once the connections they carry in JavaScript end.
    const [h1, h2] = await Promise.all([r1, r2]);
    const after = await c.status('node-1');
    if (process.env.WEFT_KEEP_LOGS) {
      const { fetchAccessLog } = await import('../../../agent/src/admin/client.ts');
      for (const n of c.sandbox.state.nodes)
        process.stderr.write(
          `access ${n.name}: ${JSON.stringify((await fetchAccessLog(n.adminSocket)).filter((e) => e.result !== 'ok'))}\n`,
        );
    }
    process.stderr.write(
      `upgrade: ${JSON.stringify({ h1, h2, res: { ...res, broken: undefined }, handover: after.lifecycle?.handover })}\n`,
    );
    expect(res.opened).toEqual({ hbone: PER_KIND, 'same-node': PER_KIND, plaintext: PER_KIND });
    expect(res.broken).toEqual({});
    expect(res.mismatched).toBe(0);
    // Every message each connection sent came back, in order, the last ones included.
    expect(res.short).toEqual({});
    expect(res.sent).toBeGreaterThan(0);
    expect(res.echoed).toBe(res.sent);
    expect(res.bytesEchoed).toBe(res.bytesSent);
    expect(res.fresh.failed).toBe(0);
    expect(res.fresh.ok).toBeGreaterThan(40);
    expect(res.cleanCloses).toBe(3 * PER_KIND);
    expect(after.lifecycle).toMatchObject({ generation: 2 });
    // Plaintext relayed connections moved to the new agent; HBONE ones drained in the old.
    expect(after.lifecycle?.handover?.connectionsMoved).toBeGreaterThanOrEqual(2 * PER_KIND);
    expect(after.lifecycle?.handover).toMatchObject({ state: 'done', result: 'drained' });
  }, 120_000);

  it('an HTTP/1.1 client with kept-alive connections sees no failed request across both restarts', async () => {
    const p = spawnInPod(c.pod('shop/client'), keptAliveClient(c.pod('shop/web').ip));
    clients.push(p);
    let out = '';
    p.stdout!.on('data', (d) => {
      out += d;
    });
    while (!out.includes('started')) await sleep(50);
    await sleep(1000);
    // node-2 serves the L7 path (each response then says Connection: close); node-1 carries
    // the client's HBONE streams.
    const n2 = c.sandbox.restartAgent('node-2');
    await waitTakenOver('node-2', 3);
    await sleep(1500);
    const n1 = c.sandbox.restartAgent('node-1');
    await waitTakenOver('node-1', 3);
    await sleep(1500);
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await exited;
    const r = JSON.parse(out.trim().split('\n').pop()!) as {
      ok: number;
      failed: number;
      errors: unknown[];
      connections: number;
    };
    await Promise.all([n1, n2]);
    process.stderr.write(`http: ${JSON.stringify(r)}\n`);
    expect(r.errors).toEqual([]);
    expect(r.failed).toBe(0);
    expect(r.ok).toBeGreaterThan(40);
    // Asked to close at a request boundary, the client moved to new connections.
    expect(r.connections).toBeGreaterThan(1);
  }, 120_000);

  it('with --kill, fails closed: open connections reset, new ones refused until the new agent', async () => {
    const stop = await startLoad();
    const r = await c.sandbox.restartAgent('node-1', { kill: true });
    // The new agent's own account of its start: the process (startedAt, once Node has
    // loaded it) and the moment it served in full (servingAt: every listener accepting,
    // every pod's certificate in).
    let life = (await c.status('node-1')).lifecycle!;
    for (const end = Date.now() + 10_000; !life.servingAt && Date.now() < end; ) {
      await sleep(50);
      life = (await c.status('node-1')).lifecycle!;
    }
    const startedAt = Date.parse(life.startedAt);
    const servingAt = Date.parse(life.servingAt!);
    await sleep(1500);
    const res = await stop();
    process.stderr.write(
      `kill: ${JSON.stringify({
        r,
        spawnToStartMs: startedAt - r.spawnedAt,
        startToServingMs: servingAt - startedAt,
        firstRefusalAfterSpawnMs: res.fresh.firstFailureAt! - r.spawnedAt,
        recoveredAfterServingMs: res.fresh.recoveredAt! - servingAt,
        lastFailureAfterServingMs: res.fresh.lastFailureAt! - servingAt,
        fresh: res.fresh,
        broken: Object.fromEntries(Object.entries(res.broken).map(([k, v]) => [k, v.length])),
      })}\n`,
    );
    // Every connection node-1's agent carried ends with a reset, never a clean close.
    for (const kind of ['hbone', 'same-node', 'plaintext']) {
      const b = res.broken[kind] ?? [];
      expect(b.length).toBe(PER_KIND);
      expect(b.every((x) => x.endsWith('ECONNRESET'))).toBe(true);
    }
    expect(res.cleanCloses).toBe(0);
    // New connections were refused at once while no agent ran (the few in flight at the
    // kill were reset): each refusal well under the 1 s a dropped SYN would wait before its
    // first retransmission. The kernel refuses in microseconds; what the client measures is
    // mostly its own event loop on a loaded machine (7 to 127 ms seen) ...
    expect(res.fresh.failed).toBeGreaterThan(0);
    for (const e of [...res.fresh.errors, ...res.fresh.lastErrors])
      expect(e).toMatch(/ECONNREFUSED|ECONNRESET/);
    expect(res.fresh.slowestRefusalMs).toBeDefined();
    expect(res.fresh.slowestRefusalMs!).toBeLessThan(500);
    // ... and succeeded again within 0.5 s of the new agent's start. Measured from when the
    // agent reports it serves in full: Node alone takes seconds to start on a loaded
    // machine, so 0.5 s from the process's spawn is out of reach (docs/upgrades.md).
    // Connections are opened every 50 ms: the first to succeed, and the last to fail, were
    // opened by then.
    expect(res.fresh.afterFirstFailureOkMs).toBeDefined();
    expect(res.fresh.recoveredAt! - servingAt).toBeLessThanOrEqual(500);
    expect(res.fresh.lastFailureAt! - servingAt).toBeLessThanOrEqual(500);
    expect((await c.status('node-1')).lifecycle?.generation).toBe(4);
  }, 120_000);

  async function waitTakenOver(node: string, generation: number): Promise<void> {
    for (let i = 0; i < 1200; i++) {
      try {
        const s = await c.status(node);
        if ((s.lifecycle?.generation ?? 0) >= generation) return;
      } catch {
        // between sockets
      }
      await sleep(25);
    }
    throw new Error(`${node}: no agent of generation ${generation}`);
  }
});
