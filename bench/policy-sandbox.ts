// The sandbox the policy benchmarks run in: two nodes, a client pod on node-1
// and a server pod on node-2 (mTLS between them), and read-only views of the
// BPF maps the agents install, opened from their pins.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchStatus } from '../agent/src/admin/client.ts';
import type { Decoded } from '../agent/src/datapath/codec.ts';
import { encodeAddr } from '../agent/src/datapath/codec.ts';
import { BpfMap, mapSpec } from '../agent/src/datapath/map.ts';
import { cgroupId } from '../agent/src/datapath/system.ts';
import type { Cleanup } from '../agent/src/sandbox/cleanup.ts';
import { type PodPlacement, spawnInPod } from '../agent/src/sandbox/exec.ts';
import { Sandbox, teardown } from '../agent/src/sandbox/sandbox.ts';
import { constants } from '../agent/src/tables/layout.ts';

export const NAME = 'benchpol';

const manifests = `apiVersion: v1
kind: Namespace
metadata: {name: bench, labels: {weft.dev/mesh: enabled}}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: bench, labels: {app: client}}
spec: {nodeName: node-1, serviceAccountName: client, containers: [{name: app}]}
---
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: bench, labels: {app: server}}
spec: {nodeName: node-2, serviceAccountName: server, containers: [{name: app}]}
`;

/** Echo on 9000 (one byte back per connection is enough for the probes). */
const server = `
import net from 'node:net';
net.createServer({ noDelay: true }, (s) => { s.pipe(s); s.on('error', () => {}); })
  .listen(9000, '0.0.0.0', () => console.log('listening'));
`;

export const now = (): number => performance.timeOrigin + performance.now();
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface PolicyBench {
  sandbox: Sandbox;
  dir: string;
  pod(key: 'client' | 'server'): PodPlacement & { ip: string };
  /** Replaces one manifest file in one step (write aside, rename), as an editor or `kubectl apply` would. */
  apply(file: string, yaml: string | null): number;
  /** The client's egress flags on node-1 (isolation and live generation), straight from `enrolled`. */
  clientFlags(): number;
  /** Entries installed in node-1's egress_allow for the client, and in node-2's ingress_allow for the server. */
  installed(): { egress: number; ingress: number };
  snapshotVersion(node: string): Promise<number>;
  close(): Promise<void>;
}

function openMap<K = Decoded>(pinRoot: string, name: string): BpfMap<K, Decoded> {
  return BpfMap.openPinned<K, Decoded>(join(pinRoot, name), mapSpec(name));
}

/** Counts the live-generation entries of one workload in an LPM allow map. */
function countFor(map: BpfMap<Decoded, Decoded>, id: number): number {
  let n = 0;
  for (const k of map.keys())
    if (((k.workload_id as number) & ~constants.POLICY_GEN_BIT) >>> 0 === id) n++;
  return n;
}

/** The sandbox up; `cleanup` takes it down also when the run is interrupted. */
export async function policyBench(cleanup: Cleanup): Promise<PolicyBench> {
  teardown(NAME);
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-policy-'));
  cleanup.add(`sandbox ${NAME}`, () => {
    teardown(NAME);
    rmSync(dir, { recursive: true, force: true });
  });
  writeFileSync(join(dir, 'cluster.yaml'), manifests);
  const sandbox = await Sandbox.up({ name: NAME, nodes: 2, manifests: dir });
  const children: ChildProcess[] = [];
  const maps: { close(): void }[] = [];
  const pod = (key: string) => {
    const p = sandbox.state.pods.find((x) => x.key === `bench/${key}`)!;
    return { netnsPath: p.netns, cgroupDir: p.cgroup, ip: p.ip };
  };
  try {
    const child = spawnInPod(pod('server'), server);
    children.push(child);
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', () => resolve());
      child.on('exit', (c) => reject(new Error(`server exited (${c})`)));
    });
    // Certificates first, so no measured connection waits for one.
    for (let i = 0; i < 400; i++) {
      const ids = (
        await Promise.all(sandbox.state.nodes.map((n) => fetchStatus(n.adminSocket)))
      ).flatMap((s) => s.identities);
      if (ids.length === 2 && ids.every((x) => x.serial)) break;
      await sleep(50);
    }
  } catch (e) {
    for (const c of children) c.kill('SIGKILL');
    await sandbox.down();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const [n1, n2] = sandbox.state.nodes as [
    (typeof sandbox.state.nodes)[0],
    (typeof sandbox.state.nodes)[0],
  ];
  const enrolled1 = openMap<bigint>(n1.pinRoot, 'enrolled');
  const egress1 = openMap(n1.pinRoot, 'egress_allow');
  const targets2 = openMap(n2.pinRoot, 'inbound_targets');
  const ingress2 = openMap(n2.pinRoot, 'ingress_allow');
  maps.push(enrolled1, egress1, targets2, ingress2);
  const clientCgroup = cgroupId(pod('client').cgroupDir);
  const serverAddr = encodeAddr(pod('server').ip);
  return {
    sandbox,
    dir,
    pod,
    apply(file, yaml) {
      const path = join(dir, file);
      const t = now();
      if (yaml === null) rmSync(path, { force: true });
      else {
        writeFileSync(`${path}.tmp`, yaml);
        renameSync(`${path}.tmp`, path);
      }
      return t;
    },
    clientFlags() {
      return (enrolled1.get(clientCgroup)?.flags as number) ?? -1;
    },
    installed() {
      const client = enrolled1.get(clientCgroup);
      const target = targets2.get({ addr: serverAddr.bytes, port: 0, family: serverAddr.family });
      return {
        egress: client ? countFor(egress1, client.id as number) : 0,
        ingress: target ? countFor(ingress2, target.workload_id as number) : 0,
      };
    },
    async snapshotVersion(node) {
      const n = sandbox.state.nodes.find((x) => x.name === node)!;
      return (await fetchStatus(n.adminSocket)).snapshotVersion;
    },
    async close() {
      for (const m of maps) m.close();
      for (const c of children) c.kill('SIGKILL');
      await sandbox.down();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** median and p90 of a list (nearest rank). */
export function stats(xs: number[]): { median: number; p90: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? Number.NaN;
  return { median: at(0.5), p90: at(0.9) };
}
