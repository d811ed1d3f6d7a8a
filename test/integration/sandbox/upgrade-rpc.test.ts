// Request clients with kept-alive connections across both nodes' agent upgrades: gRPC
// over a Service port read as opaque TCP (the L4 path, over HBONE) and over one read as
// gRPC (the L7 engine), and HTTP/1.1 through the engine. No call may fail; the clients
// on the engine's path are asked to move to the new agent at a request boundary
// (HTTP/2 GOAWAY, HTTP/1.1 `Connection: close`) and do.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawnInPod } from '../../../agent/src/sandbox/exec.ts';
import { describePrivileged } from '../../support/privileged.ts';
import { type TestCluster, testCluster } from '../../support/sandbox.ts';
import { docs, namespace, pod } from '../../support/shop.ts';
import {
  grpcServer,
  httpServer,
  type RpcCounts,
  type RpcTarget,
  rpcClient,
} from '../../support/upgrade-rpc.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const service = (name: string, app: string, port: number, target: number, proto?: string) =>
  `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: shop}
spec:
  selector: {app: ${app}}
  ports: [{name: p${port}, port: ${port}, targetPort: ${target}${proto ? `, appProtocol: ${proto}` : ''}}]
`;

const manifests = docs(
  namespace('shop', 'weft.dev/mesh: enabled'),
  pod('shop', 'client', 'node-1'),
  pod('shop', 'rpc', 'node-2', { ports: '{containerPort: 9090}' }),
  pod('shop', 'web', 'node-2', { ports: '{containerPort: 8081}' }),
  // The same gRPC server behind a port read as opaque TCP and one read as gRPC.
  service('rpc-tcp', 'rpc', 70, 9090),
  service('rpc', 'rpc', 90, 9090, 'grpc'),
  service('web', 'web', 80, 8081, 'http'),
);

describePrivileged('hitless agent upgrade: gRPC and HTTP/1.1 clients', () => {
  let c: TestCluster;

  beforeAll(async () => {
    c = await testCluster('r', { 'm.yaml': manifests }, 2, {
      agentArgs: ['--drain-grace', '40'],
    });
    await c.certificates(2);
    await c.serve('shop/rpc', grpcServer(9090));
    await c.serve('shop/web', httpServer(8081));
  }, 60_000);
  afterAll(async () => {
    await c?.down();
  });

  it('kept-alive gRPC (L4 and L7) and HTTP/1.1 (L7) clients see no failed call across both restarts', async () => {
    const vip = (k: string) => c.sandbox.state.services[k]!;
    const targets: RpcTarget[] = [
      { name: 'grpc-l4', host: vip('shop/rpc-tcp'), port: 70, kind: 'grpc' },
      { name: 'grpc-l7', host: vip('shop/rpc'), port: 90, kind: 'grpc' },
      { name: 'http-l7', host: vip('shop/web'), port: 80, kind: 'http' },
    ];
    const p = spawnInPod(c.pod('shop/client'), rpcClient(targets, 50));
    let out = '';
    let err = '';
    p.stdout!.on('data', (d) => {
      out += d;
    });
    p.stderr!.on('data', (d) => {
      err += d;
    });
    try {
      for (let i = 0; i < 600 && !out.includes('started'); i++) {
        if (p.exitCode !== null) throw new Error(`client exited: ${out}${err}`);
        await sleep(50);
      }
      await sleep(1500);
      // node-1 runs the client's engine (its sessions and connections are drained there);
      // node-2 serves both backends over HBONE.
      const r1 = c.sandbox.restartAgent('node-1');
      await waitGeneration('node-1', 2);
      await sleep(1500);
      const r2 = c.sandbox.restartAgent('node-2');
      await waitGeneration('node-2', 2);
      await sleep(1500);
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await exited;
      const res = JSON.parse(out.trim().split('\n').pop()!) as Record<string, RpcCounts>;
      const [h1, h2] = await Promise.all([r1, r2]);
      process.stderr.write(`rpc upgrade: ${JSON.stringify({ res, h1, h2 })}\n`);
      for (const name of ['grpc-l4', 'grpc-l7', 'http-l7']) {
        expect(res[name]!.errors, name).toEqual([]);
        expect(res[name]!.failed, name).toBe(0);
        expect(res[name]!.ok, name).toBeGreaterThan(40);
      }
      // Opaque TCP cannot be asked to move: its one session stayed with the old agents.
      expect(res['grpc-l4']!.connections).toBe(1);
      // The engine's clients were asked to close at a request boundary, and moved.
      expect(res['grpc-l7']!.connections).toBeGreaterThan(1);
      expect(res['http-l7']!.connections).toBeGreaterThan(1);
    } finally {
      p.kill('SIGKILL');
    }
  }, 150_000);

  async function waitGeneration(node: string, generation: number): Promise<void> {
    for (let i = 0; i < 1200; i++) {
      try {
        if (((await c.status(node)).lifecycle?.generation ?? 0) >= generation) return;
      } catch {
        // between sockets
      }
      await sleep(25);
    }
    throw new Error(`${node}: no agent of generation ${generation}`);
  }
});
