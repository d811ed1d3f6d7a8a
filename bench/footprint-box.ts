// One sandbox of the footprint benchmark (bench/footprint.ts): two nodes with
// mTLS, a client on node-1, a server on node-2 (over HBONE) and one on node-1
// (the in-process hand-off), the direct pair outside the mesh; the agents
// started with a variant's environment. Reads the agents' memory, CPU and status.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { adminText, fetchStatus } from '../agent/src/admin/client.ts';
import type { Cleanup } from '../agent/src/sandbox/cleanup.ts';
import { lastJson, runInPod, spawnInPod } from '../agent/src/sandbox/exec.ts';
import { netnsPath } from '../agent/src/sandbox/host.ts';
import { Sandbox, teardown } from '../agent/src/sandbox/sandbox.ts';
import { cgroupPids, cgroupUsageUsec, vmRssKiB } from './cpu.ts';
import { footprintServer } from './footprint-programs.ts';
import type { Pod } from './pod-exec.ts';
import { connectClient } from './pod-programs.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Variant {
  id: string;
  what: string;
  /** The agents' environment beside the bench's own (e.g. WEFT_AGENT_NODE_FLAGS). */
  env: Record<string, string>;
}

const pod = (name: string, node: string, labels: Record<string, string>, sa = 'default') => `
apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: fp
  labels: {${Object.entries(labels)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ')}}
spec: {nodeName: ${node}, serviceAccountName: ${sa}, containers: [{name: app, ports: [{containerPort: 9000}]}]}
`;

const MANIFESTS = [
  'apiVersion: v1\nkind: Namespace\nmetadata: {name: fp, labels: {weft.dev/mesh: enabled}}\n',
  pod('client', 'node-1', { app: 'client' }, 'client'),
  pod('remote', 'node-2', { app: 'remote' }),
  pod('local', 'node-1', { app: 'local' }),
  pod('dclient', 'node-1', { app: 'dclient', 'weft.dev/mesh': 'disabled' }),
  pod('dremote', 'node-2', { app: 'dremote', 'weft.dev/mesh': 'disabled' }),
].join('---\n');

/** The scale test's pods: count enrolled pods on node-1; `changed` gets another label value. */
export function scaleManifests(count: number, changed = -1): string {
  const docs = [
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: scale, labels: {weft.dev/mesh: enabled}}\n',
  ];
  for (let i = 0; i < count; i++) {
    docs.push(
      pod(`p${i}`, 'node-1', { app: `p${i}`, rev: i === changed ? 'b' : 'a' }).replace(
        'namespace: fp',
        'namespace: scale',
      ),
    );
  }
  return docs.join('---\n');
}

export class FootprintBox {
  readonly variant: Variant;
  readonly sbx: Sandbox;
  readonly manifests: string;

  private constructor(variant: Variant, sbx: Sandbox, manifests: string) {
    this.variant = variant;
    this.sbx = sbx;
    this.manifests = manifests;
  }

  static async up(
    variant: Variant,
    index: number,
    tmp: string,
    agentArgs: string[],
    cleanup: Cleanup,
  ): Promise<FootprintBox> {
    const name = `bench-fp${index}`;
    teardown(name);
    cleanup.add(`sandbox ${name}`, () => {
      teardown(name);
    });
    const dir = join(tmp, name, 'manifests');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'fp.yaml'), MANIFESTS);
    // The agents inherit the environment at their start: the variant's, for them alone.
    const saved = Object.fromEntries(Object.keys(variant.env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, variant.env);
    let sbx: Sandbox;
    try {
      sbx = await Sandbox.up({ name, nodes: 2, manifests: dir, mtls: true, agentArgs });
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    const b = new FootprintBox(variant, sbx, dir);
    for (const p of ['remote', 'local', 'dremote']) {
      const child = spawnInPod(b.placement(p), footprintServer);
      await new Promise<void>((resolve, reject) => {
        child.stdout?.on('data', () => resolve());
        child.on('exit', (c) => reject(new Error(`footprint server in ${p} exited (${c})`)));
      });
    }
    await b.waitForCertificates();
    return b;
  }

  pod(name: string, ns = 'fp'): Pod {
    const p = this.sbx.state.pods.find((x) => x.key === `${ns}/${name}`);
    if (!p) throw new Error(`sandbox ${this.sbx.state.name} has no pod ${ns}/${name}`);
    return { netns: p.netns, cgroup: p.cgroup, ip: p.ip };
  }

  placement(name: string): { netnsPath: string; cgroupDir: string } {
    const p = this.pod(name);
    return { netnsPath: p.netns, cgroupDir: p.cgroup };
  }

  private get nodes() {
    return this.sbx.state.nodes;
  }

  /** VmRSS of each node's agent, MiB, node-1 first. */
  rssMiB(): number[] {
    return this.nodes.map(
      (n) =>
        cgroupPids(join(n.cgroupRoot, 'agent')).reduce((k, pid) => k + vmRssKiB(pid), 0) / 1024,
    );
  }

  /**
   * Each agent's anonymous memory (smaps_rollup), MiB, node-1 first: its RSS less the pages
   * mapped from files, of which the node binary's ~55 MiB of code is most (and is shared
   * with every process that maps the same file).
   */
  anonMiB(): number[] {
    return this.nodes.map((n) =>
      cgroupPids(join(n.cgroupRoot, 'agent')).reduce((k, pid) => {
        try {
          const m = /^Anonymous:\s+(\d+) kB$/m.exec(
            readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'),
          );
          return k + Number(m?.[1] ?? 0) / 1024;
        } catch {
          return k;
        }
      }, 0),
    );
  }

  /** Runs a pod program to its end; its last JSON line, or an Error naming the pod. */
  async inPod<T extends { error?: string }>(pod: string, script: string, ms: number): Promise<T> {
    const r = lastJson<T>(await runInPod(this.placement(pod), script, ms));
    if (r.error) throw new Error(`${pod}: ${r.error}`);
    return r;
  }

  /** New connections from client to server for ms: rate, and both agents' CPU µs per connection. */
  async connects(
    client: string,
    server: string,
    ms: number,
  ): Promise<{ cps: number; agentUsPerConn: number }> {
    const c0 = this.cpuUsec();
    const r = await this.inPod<{ count: number; seconds: number; error?: string }>(
      client,
      connectClient(this.pod(server).ip, ms),
      ms + 30_000,
    );
    const c1 = this.cpuUsec();
    const used = c1.reduce((a, b) => a + b, 0) - c0.reduce((a, b) => a + b, 0);
    return { cps: r.count / r.seconds, agentUsPerConn: used / r.count };
  }

  /** CPU time of each node's agent so far, µs, node-1 first. */
  cpuUsec(): number[] {
    return this.nodes.map((n) => cgroupUsageUsec(join(n.cgroupRoot, 'agent')));
  }

  agentPids(): number[] {
    return this.nodes.map((n) => n.agentPid ?? 0);
  }

  /** Where a helper runs beside node i's agent: its netns, a cgroup of its own. */
  nodePlacement(i: number): { netnsPath: string; cgroupDir: string } {
    const n = this.nodes[i]!;
    return { netnsPath: netnsPath(n.netns), cgroupDir: join(n.cgroupRoot, 'profiler') };
  }

  adminSocket(node: number): string {
    return this.nodes[node]!.adminSocket;
  }

  /** Connections the agents hold open now, all nodes. */
  async openConnections(): Promise<number> {
    const all = await Promise.all(this.nodes.map((n) => fetchStatus(n.adminSocket)));
    return all.reduce((k, s) => k + (s.proxy.connections ?? 0), 0);
  }

  /** Waits until the agents hold at most `n` connections (closed ones drained); false on timeout. */
  async drainTo(n: number, ms = 30_000): Promise<boolean> {
    const until = performance.now() + ms;
    while (performance.now() < until) {
      if ((await this.openConnections()) <= n) return true;
      await sleep(250);
    }
    return false;
  }

  /** weft_reconcile_duration_seconds of node-1's agent: {sum s, count}. */
  async reconcileTotals(): Promise<{ sum: number; count: number }> {
    const text = await adminText(this.nodes[0]!.adminSocket, '/metrics');
    const num = (suffix: string) => {
      const m = new RegExp(
        `^weft_reconcile_duration_seconds_${suffix}(?:\\{[^}]*\\})? (\\S+)$`,
        'm',
      ).exec(text);
      if (!m) throw new Error(`node-1 /metrics: no weft_reconcile_duration_seconds_${suffix}`);
      return Number(m[1]);
    };
    return { sum: num('sum'), count: num('count') };
  }

  private async waitForCertificates(): Promise<void> {
    for (let i = 0; i < 400; i++) {
      const ids = (await Promise.all(this.nodes.map((n) => fetchStatus(n.adminSocket)))).flatMap(
        (s) => s.identities,
      );
      if (ids.length > 0 && ids.every((x) => x.serial)) return;
      await sleep(50);
    }
    throw new Error(`sandbox ${this.sbx.state.name}: the agents got no certificates within 20 s`);
  }

  async down(): Promise<void> {
    await this.sbx.down();
  }
}
