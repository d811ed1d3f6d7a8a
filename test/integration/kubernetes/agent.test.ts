// `weft agent --kubernetes` on a node, end to end: the cluster comes from a
// local server speaking the Kubernetes API's list/watch protocol (not a real
// API server, see test/support/fake-apiserver.ts); the node is a sandbox node
// whose pod has a kubelet-style cgroup (kubepods/besteffort/pod<uid>) holding
// a process in the pod's netns. The agent discovers the pod from its UID,
// enrolls it in the real kernel, and API changes (policy, deletion) reach the
// datapath. Its cgroup root and pins live inside the sandbox's own subtrees.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fetchStatus } from '../../../agent/src/admin/client.ts';
import {
  type ConnectResult,
  connectScript,
  lastJson,
  runInPod,
} from '../../../agent/src/sandbox/exec.ts';
import type { AgentStatus } from '../../../agent/src/telemetry/status.ts';
import { FakeApiServer, writeKubeconfig } from '../../support/fake-apiserver.ts';
import { describePrivileged } from '../../support/privileged.ts';
import { type TestCluster, testCluster } from '../../support/sandbox.ts';
import { namespaces, workloads } from '../../support/shop.ts';

const bin = new URL('../../../bin/weft', import.meta.url).pathname;
const UID = '6f1c2a9e-0d4b-4c1e-9a77-3b1f2e8d5c10';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function waitFor<T>(what: string, f: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what}: not within ${ms} ms${last ? ` (${(last as Error).message})` : ''}`);
}

describePrivileged('weft agent --kubernetes', () => {
  let c: TestCluster;
  let api: FakeApiServer;
  let dir: string;
  let agent: ChildProcess | undefined;
  let pause: ChildProcess | undefined;
  let agentLog = '';
  let podCgroup: string;
  let socket: string;
  let healthPort: number;
  let serverIP: string;
  let clientNetns: string;

  const client = () => ({ cgroupDir: podCgroup, netnsPath: clientNetns });
  const status = () => fetchStatus(socket);
  const enrolled = (s: AgentStatus) => s.workloads.find((w) => w.key === 'shop/client')?.enrolled;
  const connect = async () =>
    lastJson<ConnectResult>(await runInPod(client(), connectScript(serverIP, 8080)));

  beforeAll(async () => {
    // The sandbox's own agents leave these pods alone: shop is not enrolled in its manifests.
    c = await testCluster('q', { 'ns.yaml': namespaces(false), 'pods.yaml': workloads }, 2);
    clientNetns = c.pod('shop/client').netnsPath;
    serverIP = c.pod('shop/server').ip;
    await c.serve(
      'shop/server',
      `import net from 'node:net';
net.createServer((s) => s.end('hello from server')).listen(8080, '0.0.0.0', () => console.log('listening'));`,
    );
    const node1 = c.sandbox.state.nodes.find((n) => n.name === 'node-1')!;
    const cgroupRoot = join(node1.cgroupRoot, '..', 'k8s-node-1');
    podCgroup = join(cgroupRoot, 'kubepods', 'besteffort', `pod${UID}`);
    mkdirSync(podCgroup, { recursive: true });
    const pinRoot = join(node1.pinRoot, '..', 'k8s-node-1');
    // The pod's infra process, as a runtime would start it: in the pod cgroup and netns.
    pause = spawn(
      'sh',
      [
        '-c',
        `echo $$ > '${podCgroup}/cgroup.procs' && exec nsenter --net='${clientNetns}' sleep 600`,
      ],
      {
        stdio: 'ignore',
      },
    );

    api = await new FakeApiServer().start();
    api.apply({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'shop', labels: { 'weft.dev/mesh': 'enabled' } },
    });
    api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'backend' } });
    api.apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { namespace: 'shop', name: 'client', uid: UID, labels: { app: 'client' } },
      spec: {
        nodeName: 'node-1',
        serviceAccountName: 'client',
        containers: [{ name: 'c', image: 'c' }],
      },
      status: { phase: 'Running', podIP: c.pod('shop/client').ip, qosClass: 'BestEffort' },
    });
    // Outside the mesh, on another node: the client reaches it through the proxy in plaintext.
    api.apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        namespace: 'backend',
        name: 'server',
        uid: 'uid-server',
        labels: { app: 'server' },
      },
      spec: { nodeName: 'node-2', containers: [{ name: 's', image: 's' }] },
      status: { phase: 'Running', podIP: serverIP, qosClass: 'BestEffort' },
    });

    dir = mkdtempSync(join(tmpdir(), 'weft-k8s-agent-'));
    const kubeconfig = writeKubeconfig(dir, api.url, 'agent');
    socket = join(dir, 'agent.sock');
    healthPort = await freePort();
    agent = spawn(
      bin,
      [
        'agent',
        '--kubernetes',
        '--kubeconfig',
        kubeconfig,
        '--node',
        'node-1',
        '--cgroup-root',
        cgroupRoot,
        '--host-proc',
        '/proc',
        '--bpffs',
        pinRoot,
        '--admin-socket',
        socket,
        '--no-admin-tcp',
        '--health-port',
        String(healthPort),
        '--metrics-port',
        String(healthPort),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    agent.stderr!.on('data', (d) => {
      agentLog += d;
    });
    await waitFor('the agent enrolls shop/client', async () =>
      enrolled(await status()) ? true : undefined,
    );
  }, 90_000);

  afterAll(async () => {
    if (agent && agent.exitCode === null) {
      const gone = new Promise((r) => agent!.once('exit', r));
      agent.kill('SIGTERM');
      await gone;
    }
    pause?.kill('SIGKILL');
    await api?.close();
    // Pins and cgroups made here live inside the sandbox's subtrees: down() removes them.
    const errors = await c?.down();
    if (dir) rmSync(dir, { recursive: true, force: true });
    expect(errors ?? []).toEqual([]);
  }, 60_000);

  it('finds the pod by UID through its kubelet cgroup, and says ready once synced', async () => {
    const s = await status();
    const w = s.workloads.find((x) => x.key === 'shop/client')!;
    expect(w.listeners.join(' ')).toMatch(/outbound 127\.0\.0\.1:15001/);
    const ready = await fetch(`http://127.0.0.1:${healthPort}/healthz/ready`);
    expect(ready.status).toBe(200);
    const metrics = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
    expect(metrics).toContain('weft_workloads{enrolled="true"} 1');
    expect(metrics).toContain('weft_agent_ready{node="node-1"} 1');
  });

  it("redirects the pod's connections through the node proxy", async () => {
    const before = (await status()).proxy.outbound.accepted;
    const r = await connect();
    expect(r).toMatchObject({ data: 'hello from server', remote: serverIP });
    expect((await status()).proxy.outbound.accepted).toBe(before + 1);
  });

  it('a NetworkPolicy added through the API refuses the connect() at once; deleting it lets it through', async () => {
    api.apply({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { namespace: 'shop', name: 'no-egress' },
      spec: { podSelector: { matchLabels: { app: 'client' } }, policyTypes: ['Egress'] },
    });
    await waitFor('egress denied', async () =>
      (await connect()).error === 'EPERM' ? true : undefined,
    );
    api.remove('NetworkPolicy', 'networking.k8s.io/v1', 'shop', 'no-egress');
    await waitFor('egress allowed again', async () =>
      (await connect()).data === 'hello from server' ? true : undefined,
    );
  });

  it('a pod whose sandbox starts after the agent is enrolled when its process appears, and leaves when it goes', async () => {
    const LATE = '0b5e7c1d-2f3a-4b6c-8d9e-a1b2c3d4e5f6';
    const plain = c.pod('outside/plain');
    api.apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { namespace: 'shop', name: 'late', uid: LATE, labels: { app: 'late' } },
      spec: { nodeName: 'node-1', containers: [{ name: 'l', image: 'l' }] },
      status: { phase: 'Running', podIP: plain.ip, qosClass: 'Burstable' },
    });
    const late = async () => (await status()).workloads.find((w) => w.key === 'shop/late');
    await waitFor('shop/late known, not enrolled', async () =>
      (await late())?.enrolled === false ? true : undefined,
    );
    expect((await late())?.reason).toMatch(/netns or cgroup of the pod unknown/);
    const cg = join(podCgroup, '..', '..', 'burstable', `pod${LATE}`);
    mkdirSync(cg, { recursive: true });
    const proc = spawn(
      'sh',
      ['-c', `echo $$ > '${cg}/cgroup.procs' && exec nsenter --net='${plain.netnsPath}' sleep 600`],
      {
        stdio: 'ignore',
      },
    );
    try {
      await waitFor('shop/late enrolled', async () =>
        (await late())?.enrolled ? true : undefined,
      );
    } finally {
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await gone;
    }
    await waitFor('shop/late out once its processes are gone', async () =>
      (await late())?.enrolled === false ? true : undefined,
    );
    api.remove('Pod', 'v1', 'shop', 'late');
  });

  it('a pod deleted from the API leaves the mesh: its connections go direct', async () => {
    api.remove('Pod', 'v1', 'shop', 'client');
    await waitFor('shop/client taken out', async () => {
      const s = await status();
      return s.workloads.some((w) => w.key === 'shop/client') ? undefined : true;
    });
    const before = (await status()).proxy.outbound.accepted;
    expect(await connect()).toMatchObject({ data: 'hello from server' });
    expect((await status()).proxy.outbound.accepted).toBe(before);
    expect(agentLog).not.toMatch(/apply failed/);
  });
});
