// The Kubernetes source's PodLocator on a real node: each of this node's pods
// is watched (PodWatcher: inotify, one shared re-check timer) and, once ready,
// its netns is pinned by an open fd, so the path handed to the datapath keeps
// naming that netns even if the pause process goes and its pid is reused.

import {
  type PinnedNetns,
  type PodDiscovery,
  type PodResolution,
  PodWatcher,
  parseQosClass,
  pinNetns,
  type WatchOptions,
} from '../../discovery/index.ts';
import type { PodLocation } from './convert.ts';
import type { PodLocator } from './source.ts';

// A pin outlives its pod's entry by this long: the snapshot that drops the pod is applied
// after this (the datapath may still open the path to take it out), and its fd number is
// not reused for another pod's netns meanwhile.
const RETIRE_MS = 30_000;

function retire(pin: PinnedNetns | undefined): void {
  if (pin) setTimeout(() => pin.close(), RETIRE_MS).unref();
}

interface Tracked {
  resolution: PodResolution;
  pin?: PinnedNetns;
}

export class KernelPodLocator implements PodLocator {
  private readonly watcher: PodWatcher;
  private readonly pods = new Map<string, Tracked>();
  private onChange: () => void = () => {};
  private readonly log: (line: string) => void;

  constructor(discovery: PodDiscovery, opts: WatchOptions & { log?: (l: string) => void } = {}) {
    this.log = opts.log ?? (() => {});
    this.watcher = new PodWatcher(discovery, {
      ...opts,
      onError: (e) => this.log(`pod discovery: ${e}`),
    });
  }

  locate(uid: string): PodLocation | undefined {
    const t = this.pods.get(uid);
    if (t?.resolution.status !== 'ready' || !t.pin) return undefined;
    return { netnsPath: t.pin.path, cgroupDir: t.resolution.cgroupDir };
  }

  track(pods: readonly { uid: string; qosClass: string }[], onChange: () => void): void {
    this.onChange = onChange;
    const want = new Set(pods.map((p) => p.uid));
    for (const uid of [...this.pods.keys()]) {
      if (!want.has(uid)) this.drop(uid);
    }
    for (const p of pods) {
      if (this.pods.has(p.uid)) continue;
      let qos: ReturnType<typeof parseQosClass>;
      try {
        qos = parseQosClass(p.qosClass, `pod ${p.uid}`);
      } catch {
        // A pod the kubelet has not classified yet is BestEffort until it says otherwise.
        qos = 'BestEffort';
      }
      const t: Tracked = {
        resolution: { status: 'missing', uid: p.uid, tried: [], error: '' } as PodResolution,
      };
      this.pods.set(p.uid, t);
      this.update(
        t,
        this.watcher.watch(p.uid, qos, (r) => {
          this.update(t, r);
          this.onChange();
        }),
      );
    }
  }

  private update(t: Tracked, r: PodResolution): void {
    const samePin =
      t.pin &&
      r.status === 'ready' &&
      t.resolution.status === 'ready' &&
      t.resolution.netnsIno === r.netnsIno;
    if (!samePin) {
      retire(t.pin);
      t.pin = undefined;
      if (r.status === 'ready') {
        try {
          t.pin = pinNetns(r);
        } catch (e) {
          // The process went between resolving and pinning: the watcher reports what comes next.
          this.log(`pod ${r.uid}: ${(e as Error).message}`);
        }
      }
    }
    t.resolution = r;
  }

  private drop(uid: string): void {
    this.watcher.unwatch(uid);
    retire(this.pods.get(uid)?.pin);
    this.pods.delete(uid);
  }

  close(): void {
    for (const uid of [...this.pods.keys()]) this.drop(uid);
    this.watcher.close();
  }
}
