// Discovery on real cgroups and a real /proc: the sandbox's pods. The sandbox
// names pod cgroups its own way (<node cgroup>/pod-<slot>), so the tests
// describe that as a PodCgroupLayout, the way a node with an unusual kubelet
// layout would be described; everything else (cgroup.procs, /proc/PID/ns/net,
// inotify on cgroup2, cgroup.events) is the kernel's.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmdirSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cgroup2Root } from '../../../agent/src/datapath/system.ts';
import {
  type PodCgroupLayout,
  PodDiscovery,
  type PodResolution,
  PodWatcher,
  pinNetns,
} from '../../../agent/src/discovery/index.ts';
import { spawnInPod } from '../../../agent/src/sandbox/exec.ts';
import { describePrivileged } from '../../support/privileged.ts';
import { type TestCluster, testCluster } from '../../support/sandbox.ts';

const manifests = `
apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: demo}
spec: {nodeName: node-1, containers: [{name: a}]}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: demo}
spec: {nodeName: node-1, containers: [{name: b}]}
`;

const LONG_LIVED = `setInterval(() => {}, 1 << 30); console.log('listening');`;

/** Pod cgroups named pod-<n> under one directory; the "uid" is that name. */
function slotLayout(parent: string): PodCgroupLayout {
  return {
    name: `slots ${parent}`,
    candidates: (uid) => [`${parent}/${uid}`],
    podUid: (dir) => (/^pod-\d+$/.test(dir) ? dir : undefined),
  };
}

/** Resolves when the recorded changes hold a match; fails after ms. */
function waitFor(seen: () => PodResolution[], match: (r: PodResolution) => boolean, what: string) {
  const ms = 10_000;
  return new Promise<PodResolution>((resolve, reject) => {
    const t0 = Date.now();
    const tick = () => {
      const hit = seen().find(match);
      if (hit) return resolve(hit);
      if (Date.now() - t0 > ms) {
        return reject(new Error(`no ${what} within ${ms} ms; saw ${JSON.stringify(seen())}`));
      }
      setTimeout(tick, 20);
    };
    tick();
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

describePrivileged('pod discovery on the sandbox pods', () => {
  let c: TestCluster;
  let nodeCgroup: string;
  let layout: PodCgroupLayout;
  const children: ChildProcess[] = [];
  const madeCgroups: string[] = [];
  let watcher: PodWatcher | undefined;

  const slotOf = (key: string) => basename(c.pod(key).cgroupDir!);
  const nsIno = (key: string) => Number(statSync(c.pod(key).netnsPath).ino);
  const discovery = (extra: Partial<ConstructorParameters<typeof PodDiscovery>[0]> = {}) =>
    new PodDiscovery({
      cgroupRoot: cgroup2Root(),
      procRoot: '/proc',
      layouts: [layout],
      scan: false,
      ...extra,
    });

  beforeAll(async () => {
    c = await testCluster('d', { 'demo.yaml': manifests }, 1);
    nodeCgroup = c.sandbox.state.nodes[0]!.cgroupRoot;
    layout = slotLayout(relative(cgroup2Root(), nodeCgroup));
  }, 60_000);

  afterAll(async () => {
    watcher?.close();
    for (const ch of children) ch.kill('SIGKILL');
    await Promise.all(children.map(exited));
    for (const d of madeCgroups) if (existsSync(d)) rmdirSync(d);
    await c?.down();
  });

  it('finds a running pod: its cgroup, its process and the netns the sandbox made', async () => {
    const child = await c.serve('demo/a', LONG_LIVED);
    const slot = slotOf('demo/a');
    const r = discovery().resolve(slot, 'BestEffort');
    expect(r).toEqual({
      status: 'ready',
      uid: slot,
      cgroupDir: c.pod('demo/a').cgroupDir,
      layout: layout.name,
      // sh execs nsenter, which execs node: one pid throughout.
      netnsPath: `/proc/${child.pid}/ns/net`,
      netnsIno: nsIno('demo/a'),
      pid: child.pid,
      pids: [child.pid],
    });
    expect(r.status === 'ready' && Number(statSync(r.netnsPath).ino)).toBe(nsIno('demo/a'));
    // The pod's netns is not the host's.
    expect(nsIno('demo/a')).not.toBe(Number(statSync('/proc/self/ns/net').ino));
  });

  it('finds it by scanning the sandbox tree for the directory name', () => {
    const sandboxTree = join(cgroup2Root(), `weft-${c.sandbox.state.name}`);
    const noCandidates: PodCgroupLayout = { ...layout, candidates: () => [] };
    const d = discovery({
      cgroupRoot: sandboxTree,
      layouts: [noCandidates],
      scan: { maxDepth: 3, maxDirs: 100, ttlMs: 0 },
    });
    expect(d.resolve(slotOf('demo/a'), 'BestEffort')).toMatchObject({
      status: 'ready',
      cgroupDir: c.pod('demo/a').cgroupDir,
      layout: `${layout.name} (found by scan)`,
      netnsIno: nsIno('demo/a'),
    });
  });

  it('follows a pod as its process starts and exits, by inotify on cgroup2', async () => {
    const slot = slotOf('demo/b');
    // Only events can move it along: the safety rescan is an hour away.
    watcher = new PodWatcher(discovery(), { rescanMs: 3_600_000, debounceMs: 20 });
    const seen: PodResolution[] = [];
    expect(watcher.watch(slot, 'Burstable', (r) => seen.push(r)).status).toBe('pending');
    const child = spawnInPod(c.pod('demo/b'), LONG_LIVED);
    children.push(child);
    const ready = await waitFor(
      () => seen,
      (r) => r.status === 'ready' && r.netnsIno === nsIno('demo/b'),
      'ready resolution',
    );
    expect(ready).toMatchObject({ pid: child.pid, cgroupDir: c.pod('demo/b').cgroupDir });
    const before = seen.length;
    child.kill('SIGKILL');
    await exited(child);
    // The emptied cgroup's cgroup.events (populated 0) is the only signal.
    await waitFor(
      () => seen.slice(before),
      (r) => r.status === 'pending',
      'pending after exit',
    );
  });

  it('reports a pod whose process is in the host netns as hostNetwork', async () => {
    const dir = join(nodeCgroup, 'pod-99');
    mkdirSync(dir);
    madeCgroups.push(dir);
    const child = spawn('sh', ['-c', `echo $$ > '${dir}/cgroup.procs' && exec sleep 600`], {
      stdio: 'ignore',
    });
    children.push(child);
    const d = discovery();
    let r = d.resolve('pod-99', 'BestEffort');
    for (let i = 0; i < 200 && r.status === 'pending'; i++) {
      await new Promise((res) => setTimeout(res, 10));
      r = d.resolve('pod-99', 'BestEffort');
    }
    expect(r).toEqual({
      status: 'hostNetwork',
      uid: 'pod-99',
      cgroupDir: dir,
      layout: layout.name,
      pids: [child.pid],
    });
    child.kill('SIGKILL');
    await exited(child);
  });

  it('a pinned netns outlives the process it was found through', async () => {
    const child = spawnInPod(c.pod('demo/b'), LONG_LIVED);
    children.push(child);
    const d = discovery();
    let r = d.resolve(slotOf('demo/b'), 'Burstable');
    for (let i = 0; i < 200 && r.status !== 'ready'; i++) {
      await new Promise((res) => setTimeout(res, 10));
      r = d.resolve(slotOf('demo/b'), 'Burstable');
    }
    if (r.status !== 'ready') throw new Error(`pod b not ready: ${JSON.stringify(r)}`);
    const pin = pinNetns(r);
    try {
      child.kill('SIGKILL');
      await exited(child);
      expect(existsSync(r.netnsPath)).toBe(false);
      expect(Number(statSync(pin.path).ino)).toBe(nsIno('demo/b'));
    } finally {
      pin.close();
    }
  });

  it('names the path tried for a pod that is not there', () => {
    const r = discovery().resolve('pod-999', 'Guaranteed');
    expect(r).toMatchObject({ status: 'missing', tried: [join(nodeCgroup, 'pod-999')] });
    expect(r.status === 'missing' && r.error).toContain(join(nodeCgroup, 'pod-999'));
  });
});
