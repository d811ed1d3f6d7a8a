// The agent's own lifecycle: while it is down, enrolled pods fail closed at
// once; restarted, it reuses its pins and serves again; `down` leaves nothing.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cgroup2Root } from '../../../agent/src/datapath/system.ts';
import { lastJson, runInPod } from '../../../agent/src/sandbox/exec.ts';
import { NETNS_DIR } from '../../../agent/src/sandbox/host.ts';
import { describePrivileged } from '../../support/privileged.ts';
import {
  sinkServer,
  type TestCluster,
  type TransferResult,
  testCluster,
  transferClient,
} from '../../support/sandbox.ts';
import { namespaces, workloads } from '../../support/shop.ts';

describePrivileged('agent restart and sandbox down', () => {
  let c: TestCluster;
  let serverIP: string;
  let downed = false;
  const transfer = async (from: string) =>
    lastJson<TransferResult>(
      await runInPod(c.pod(from), transferClient(serverIP, 8080, 4096), 30_000),
    );

  beforeAll(async () => {
    c = await testCluster('k', { 'ns.yaml': namespaces(true), 'pods.yaml': workloads });
    serverIP = c.pod('shop/server').ip;
    await c.serve('shop/server', sinkServer(8080));
  }, 60_000);
  afterAll(async () => {
    if (!downed) await c?.down();
  });

  it('fails closed at once while the client node agent is down', async () => {
    expect((await transfer('shop/client')).reply?.bytes).toBe(4096);
    const idBefore = (await c.status('node-1')).workloads.find(
      (w) => w.key === 'shop/client',
    )?.workloadId;
    expect(idBefore).toBeGreaterThan(0);
    await c.sandbox.stopAgent('node-1');
    const r = await transfer('shop/client');
    // Refused by the closed proxy port: no bypass, no timeout.
    expect(r.error).toBe('ECONNREFUSED');
    // The pod outside the mesh is not affected.
    expect((await transfer('outside/plain')).reply?.bytes).toBe(4096);
  });

  it('fails closed for inbound while the server node agent is down', async () => {
    await c.sandbox.stopAgent('node-2');
    expect((await transfer('outside/plain')).error).toBe('ECONNREFUSED');
  });

  it('serves again after restart, with the same workload ids', async () => {
    await c.sandbox.startAgent('node-2');
    await c.sandbox.startAgent('node-1');
    const r = await transfer('shop/client');
    expect(r.reply).toMatchObject({ bytes: 4096, sha256: r.sha256, peer: '127.0.0.6' });
    const s = await c.status('node-1');
    expect(s.workloads.find((w) => w.key === 'shop/client')).toMatchObject({
      enrolled: true,
      workloadId: 1,
    });
    expect(s.proxy.outbound.accepted).toBe(1); // Started through bin/weft, as a node starts it: one process (each step execs), Node's
    // heap flags on its command line, the bundle make build wrote (or the sources, newer).
    const pid = c.sandbox.state.nodes.find((n) => n.name === 'node-1')!.agentPid;
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const main = argv.findIndex((a) => /\/(cli\/main\.ts|bundle\/main\.mjs)$/.test(a));
    expect(argv.slice(main + 1, main + 2)).toEqual(['agent']);
    expect(argv.slice(1, main)).toContain('--external-memory-accounted-in-global-limit');
  });

  it('down removes every namespace, cgroup, pin, process and the state', async () => {
    const name = c.sandbox.state.name;
    const pids = c.sandbox.state.nodes.map((n) => n.agentPid);
    downed = true;
    expect(await c.down()).toEqual([]);
    expect(readdirSync(NETNS_DIR).filter((n) => n.startsWith(`weft-${name}-`))).toEqual([]);
    expect(existsSync(join(cgroup2Root(), `weft-${name}`))).toBe(false);
    expect(existsSync(`/sys/fs/bpf/weft/${name}`)).toBe(false);
    expect(existsSync(`/run/weft/sandbox/${name}`)).toBe(false);
    for (const pid of pids) expect(pid !== null && existsSync(`/proc/${pid}`)).toBe(false);
  });
});
