// The watcher on a fabricated tree with real inotify (fs.watch): changes are
// awaited with a bounded wait, never a fixed sleep. The safety rescan is set
// to a minute where a test must prove that inotify alone noticed.
import { rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  PodDiscovery,
  type PodResolution,
  PodWatcher,
  type WatchOptions,
} from '../../../agent/src/discovery/index.ts';
import {
  addPod,
  FakeNode,
  HOST_NETNS,
  podCgroupPath,
  stopPod,
} from '../../fixtures/discovery/node.ts';

const UID = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
const NS_A = 4026532401;
const NS_B = 4026532402;
const NO_RESCAN = 60_000;

let node: FakeNode;
let watcher: PodWatcher | undefined;
beforeEach(() => {
  node = new FakeNode();
});
afterEach(() => {
  watcher?.close();
  watcher = undefined;
  node.remove();
});

/** Records a pod's changes; next() waits (bounded) for one that matches. */
function recorder() {
  const seen: PodResolution[] = [];
  let wake: (() => void) | undefined;
  return {
    seen,
    onChange(r: PodResolution) {
      seen.push(r);
      wake?.();
    },
    async next(match: (r: PodResolution) => boolean, what: string, ms = 5000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const hit = seen.find(match);
        if (hit) return hit;
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new Error(`no change to ${what} within ${ms} ms; saw ${JSON.stringify(seen)}`);
        }
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
    },
  };
}

function start(opts: WatchOptions = {}) {
  const d = new PodDiscovery({ cgroupRoot: node.cgroupRoot, procRoot: node.procRoot });
  watcher = new PodWatcher(d, { rescanMs: NO_RESCAN, debounceMs: 20, ...opts });
  return watcher;
}

const isReady = (ino: number) => (r: PodResolution) => r.status === 'ready' && r.netnsIno === ino;

describe('PodWatcher', () => {
  it('sees a pod start after the watch, restart with a new netns, and go away', async () => {
    // The kubelet's QoS slice exists before any pod is scheduled.
    node.cgroup('kubepods.slice/kubepods-burstable.slice');
    const w = start();
    const rec = recorder();
    expect(w.watch(UID, 'Burstable', rec.onChange).status).toBe('missing');

    const spec = { runtime: 'containerd', driver: 'systemd', uid: UID, qos: 'Burstable' } as const;
    const first = addPod(node, { ...spec, netns: NS_A, pid: 400 });
    const a = await rec.next(isReady(NS_A), 'the started pod');
    expect(a).toMatchObject({ pid: 400, cgroupDir: join(node.cgroupRoot, first.path) });

    // The pod sandbox dies and the kubelet makes a new one: same uid and
    // cgroup, new containers, new netns.
    stopPod(node, first);
    addPod(node, { ...spec, netns: NS_B, pid: 500, gen: 1 });
    const b = await rec.next(isReady(NS_B), 'the restarted pod');
    expect(b).toMatchObject({ pid: 500, netnsPath: join(node.procRoot, '500', 'ns', 'net') });

    node.removeCgroup(first.path);
    await rec.next((r) => r.status === 'missing', 'the deleted pod');
    // Only changes are reported, each once.
    const statuses = rec.seen.map((r) => (r.status === 'ready' ? r.netnsIno : r.status));
    expect(statuses[0]).toBe(NS_A);
    expect(statuses.at(-1)).toBe('missing');
    expect(statuses.filter((s) => s === NS_B)).toHaveLength(1);
    for (let i = 1; i < statuses.length; i++) expect(statuses[i]).not.toBe(statuses[i - 1]);
  });

  it('sees processes join a container cgroup of a pod that was pending', async () => {
    const path = podCgroupPath('cgroupfs', UID, 'BestEffort');
    node.cgroup(`${path}/infra`);
    // No re-checks: only the container's cgroup.events can tell.
    const w = start({ settleMs: [] });
    const rec = recorder();
    expect(w.watch(UID, 'BestEffort', rec.onChange).status).toBe('pending');
    node.process(610, NS_A, '/pause');
    node.join(`${path}/infra`, 610);
    expect(await rec.next(isReady(NS_A), 'the pause process')).toMatchObject({ pid: 610 });
  });

  it('the shared rescan finds what no watch could see', async () => {
    // No kubepods at all yet: nothing below the cgroup root to watch, only the timer can notice.
    const w = start({ rescanMs: 100 });
    const rec = recorder();
    expect(w.watch(UID, 'Guaranteed', rec.onChange).status).toBe('missing');
    expect(w.watchCount).toBe(0);
    addPod(node, {
      runtime: 'crio',
      driver: 'systemd',
      uid: UID,
      qos: 'Guaranteed',
      netns: NS_A,
      pid: 700,
    });
    await rec.next(isReady(NS_A), 'the pod, by the rescan');
  });

  it('sees a pod whose QoS level the kubelet makes after the watch began', async () => {
    node.cgroup('kubepods');
    // An hour-long rescan: only the watch on the nearest existing directory can notice.
    const w = start({ rescanMs: 3_600_000 });
    const rec = recorder();
    expect(w.watch(UID, 'Burstable', rec.onChange).status).toBe('missing');
    expect(w.watchCount).toBe(1);
    addPod(node, {
      runtime: 'containerd',
      driver: 'cgroupfs',
      uid: UID,
      qos: 'Burstable',
      netns: NS_A,
      pid: 700,
    });
    await rec.next(isReady(NS_A), 'the pod under a new burstable level');
  });

  it('shares watches between pods and closes them all', async () => {
    node.cgroup('kubepods/burstable');
    node.cgroup('kubepods/besteffort');
    const w = start();
    const uids = [1, 2, 3].map((i) => `0000000${i}-0000-4000-8000-000000000000`);
    const recs = uids.map(() => recorder());
    uids.forEach((u, i) => {
      w.watch(u, 'Burstable', recs[i]!.onChange);
    });
    // Three missing pods, one directory that exists where they will appear.
    expect(w.watchCount).toBe(1);
    addPod(node, {
      runtime: 'crio',
      driver: 'cgroupfs',
      uid: uids[1]!,
      qos: 'Burstable',
      netns: NS_B,
      pid: 800,
    });
    await recs[1]!.next(isReady(NS_B), 'the second pod');
    // The pod, its parent (shared), its cgroup.events and its two containers'
    // (conmon's is not watched).
    expect(w.watchCount).toBe(5);
    expect(recs[0]!.seen).toEqual([]);
    expect(recs[2]!.seen).toEqual([]);
    w.unwatch(uids[1]!);
    expect(w.watchCount).toBe(1);
    w.close();
    expect(w.watchCount).toBe(0);
    expect(w.current().size).toBe(0);
    // Nothing fires after close.
    addPod(node, {
      runtime: 'crio',
      driver: 'cgroupfs',
      uid: uids[0]!,
      qos: 'Burstable',
      netns: NS_A,
      pid: 900,
    });
    const d = new PodDiscovery({ cgroupRoot: node.cgroupRoot, procRoot: node.procRoot });
    expect(d.resolve(uids[0]!, 'Burstable').status).toBe('ready');
    await expect(recs[0]!.next(() => true, 'anything after close', 300)).rejects.toThrow(
      /no change/,
    );
  });
});

describe('PodWatcher re-checks a half-started pod', () => {
  it('a process that entered the pod netns after joining its cgroup is found without an event', async () => {
    const path = podCgroupPath('systemd', UID, 'Burstable');
    node.cgroup(`${path}/cri-containerd-infra.scope`);
    const w = start({ settleMs: [50, 100, 200] });
    const rec = recorder();
    expect(w.watch(UID, 'Burstable', rec.onChange).status).toBe('pending');
    // The runtime moves the process into the cgroup while it is still in the host netns...
    node.process(990, HOST_NETNS, '/pause');
    node.join(`${path}/cri-containerd-infra.scope`, 990);
    await rec.next((r) => r.status === 'hostNetwork', 'the half-started process');
    // ...then it enters its own netns, which no cgroup file shows.
    const link = join(node.procRoot, '990', 'ns', 'net');
    rmSync(link);
    symlinkSync(`net:[${NS_A}]`, link);
    expect(await rec.next(isReady(NS_A), 'the process in its netns')).toMatchObject({ pid: 990 });
  });
});
