// Following pods as they start, restart and go away, without polling each:
// inotify (fs.watch) on the directories where a change would show, a short
// per-pod debounce so a burst of events costs one resolve, and one slow timer
// shared by all pods as a safety net for what inotify cannot see (a process
// exiting changes cgroup.procs without an event, and a watched directory
// may not exist yet).
//
// A process joins its cgroup before it enters the pod's netns (the runtime
// moves it, then it sets its namespaces up), and entering a netns makes no
// event. So an event that leaves a pod 'pending' or 'hostNetwork' is followed
// by a few re-checks at growing delays (settleMs): a bounded number per burst
// of events, never a loop.
//
// What is watched, per pod:
// - cgroup not found: the parent of every candidate path that exists (the
//   QoS slice), where the pod cgroup will appear;
// - cgroup found: the pod cgroup (containers' cgroups come and go there), its
//   parent (to see it removed), and the cgroup.events file of the pod and of
//   each container cgroup: its `populated` line changes when the first
//   process joins or the last one exits, and a process exiting makes no other
//   event. The file is watched itself, not through its directory: the kernel
//   tells a directory's watchers about it only while the file's inode is
//   cached, which a watch on the file guarantees.
// Watchers are shared by path: many pods in one QoS slice cost one inotify watch.
import { existsSync, type FSWatcher, statSync, watch } from 'node:fs';
import { dirname, join } from 'node:path';
import { isRuntimeHelperCgroup, type QosClass } from './layout.ts';
import { childCgroups } from './probe.ts';
import type { PodDiscovery, PodResolution } from './resolve.ts';

export interface WatchOptions {
  /** The shared safety re-resolve of every watched pod, in ms. */
  readonly rescanMs?: number;
  /** How long events for one pod are gathered before it is resolved again, in ms. */
  readonly debounceMs?: number;
  /** Re-checks after an event left a pod pending or hostNetwork, in ms from each other. */
  readonly settleMs?: readonly number[];
  /** A resolve failed for a reason other than the pod being gone (EACCES...); retried later. */
  readonly onError?: (uid: string, err: Error) => void;
}

export type OnPodChange = (r: PodResolution) => void;

interface Watched {
  readonly uid: string;
  readonly qos: QosClass;
  readonly onChange: OnPodChange;
  last: PodResolution;
  paths: Set<string>;
  timer: NodeJS.Timeout | undefined;
  settleTimer: NodeJS.Timeout | undefined;
  /** Re-checks done since the last event. */
  settled: number;
}

interface SharedWatch {
  readonly watcher: FSWatcher;
  /** Inode when watched: a path removed and made again needs a new watch. */
  readonly ino: number;
  readonly uids: Set<string>;
}

/** What a consumer acts on: the pod's status, its cgroup and its netns. */
export function resolutionKey(r: PodResolution): string {
  if (r.status === 'missing') return 'missing';
  return `${r.status}|${r.cgroupDir}|${r.status === 'ready' ? r.netnsIno : ''}`;
}

export class PodWatcher {
  private readonly discovery: PodDiscovery;
  private readonly rescanMs: number;
  private readonly debounceMs: number;
  private readonly settleMs: readonly number[];
  private readonly onError: (uid: string, err: Error) => void;
  private readonly pods = new Map<string, Watched>();
  private readonly watches = new Map<string, SharedWatch>();
  private rescan: NodeJS.Timeout | undefined;

  constructor(discovery: PodDiscovery, opts: WatchOptions = {}) {
    this.discovery = discovery;
    this.rescanMs = opts.rescanMs ?? 10_000;
    this.debounceMs = opts.debounceMs ?? 100;
    this.settleMs = opts.settleMs ?? [250, 1000, 3000];
    this.onError = opts.onError ?? (() => {});
  }

  /**
   * Follows a pod: returns where it is now, then calls onChange each time its
   * status, cgroup or netns inode changes (a restarted pod sandbox has a new
   * netns; a deleted pod turns 'missing'). Watching a uid again replaces the
   * earlier watch.
   */
  watch(uid: string, qos: QosClass, onChange: OnPodChange): PodResolution {
    this.unwatch(uid);
    const last = this.discovery.resolve(uid, qos);
    const w: Watched = {
      uid,
      qos,
      onChange,
      last,
      paths: new Set(),
      timer: undefined,
      settleTimer: undefined,
      settled: 0,
    };
    this.pods.set(uid, w);
    this.subscribe(w, this.wantedPaths(w));
    this.settle(w);
    if (!this.rescan) {
      this.rescan = setInterval(() => this.rescanAll(), this.rescanMs);
      this.rescan.unref();
    }
    return last;
  }

  unwatch(uid: string): void {
    const w = this.pods.get(uid);
    if (!w) return;
    clearTimeout(w.timer);
    clearTimeout(w.settleTimer);
    this.subscribe(w, new Set());
    this.pods.delete(uid);
    if (this.pods.size === 0) this.stopRescan();
  }

  /** The pods being followed and where each was last seen. */
  current(): Map<string, PodResolution> {
    return new Map([...this.pods].map(([uid, w]) => [uid, w.last]));
  }

  /** How many inotify watches are open (shared by pods in the same directories). */
  get watchCount(): number {
    return this.watches.size;
  }

  /** Stops everything: watchers, the rescan timer, pending debounces. */
  close(): void {
    for (const uid of [...this.pods.keys()]) this.unwatch(uid);
    for (const s of this.watches.values()) s.watcher.close();
    this.watches.clear();
    this.stopRescan();
  }

  private stopRescan(): void {
    clearInterval(this.rescan);
    this.rescan = undefined;
  }

  private rescanAll(): void {
    for (const w of [...this.pods.values()]) this.refresh(w, false);
  }

  private schedule(uid: string): void {
    const w = this.pods.get(uid);
    if (!w) return;
    clearTimeout(w.settleTimer);
    w.settleTimer = undefined;
    w.settled = 0;
    if (w.timer) return;
    w.timer = setTimeout(() => {
      w.timer = undefined;
      if (this.pods.get(uid) === w) this.refresh(w, true);
    }, this.debounceMs);
    w.timer.unref();
  }

  /** fromEvent: an event (or a re-check after one) asked; the rescan does not re-check. */
  private refresh(w: Watched, fromEvent: boolean): void {
    let r: PodResolution;
    try {
      r = this.discovery.resolve(w.uid, w.qos);
    } catch (e) {
      this.onError(w.uid, e as Error);
      return;
    }
    const changed = resolutionKey(r) !== resolutionKey(w.last);
    w.last = r;
    this.subscribe(w, this.wantedPaths(w));
    if (fromEvent) this.settle(w);
    if (changed) w.onChange(r);
  }

  /** Schedules the next re-check while the pod looks half-started and re-checks are left. */
  private settle(w: Watched): void {
    const unsettled = w.last.status === 'pending' || w.last.status === 'hostNetwork';
    const delay = this.settleMs[w.settled];
    if (!unsettled || delay === undefined || w.settleTimer) return;
    w.settled++;
    w.settleTimer = setTimeout(() => {
      w.settleTimer = undefined;
      if (this.pods.get(w.uid) === w) this.refresh(w, true);
    }, delay);
    w.settleTimer.unref();
  }

  private wantedPaths(w: Watched): Set<string> {
    const r = w.last;
    const out = new Set<string>();
    if (r.status === 'missing') {
      // The nearest directory that exists: a QoS level the kubelet has not made yet is seen
      // appearing from its parent, and the watch moves down on the refresh that follows.
      const root = this.discovery.cgroupRoot;
      for (const c of this.discovery.candidatePaths(w.uid, w.qos)) {
        let d = dirname(c.path);
        while (d.length > root.length && d.startsWith(root) && !existsSync(d)) d = dirname(d);
        // Not the cgroup root itself: every cgroup made on the node would wake it.
        if (d.length > root.length) out.add(d);
      }
    } else {
      out.add(r.cgroupDir);
      out.add(dirname(r.cgroupDir));
      out.add(join(r.cgroupDir, 'cgroup.events'));
      try {
        for (const c of childCgroups(r.cgroupDir)) {
          if (!isRuntimeHelperCgroup(c)) out.add(join(r.cgroupDir, c, 'cgroup.events'));
        }
      } catch {
        // Removed meanwhile: the parent's watch and the rescan see to it.
      }
    }
    return out;
  }

  /** Moves a pod's subscriptions to `paths` (those that exist), closing watches no pod needs. */
  private subscribe(w: Watched, paths: Set<string>): void {
    for (const p of w.paths) {
      if (paths.has(p) && this.watches.get(p)?.uids.has(w.uid)) continue;
      this.leave(p, w.uid);
    }
    const now = new Set<string>();
    for (const p of paths) {
      if (this.join(p, w.uid)) now.add(p);
    }
    w.paths = now;
  }

  private join(path: string, uid: string): boolean {
    let ino: number;
    try {
      ino = Number(statSync(path).ino);
    } catch {
      this.leave(path, uid);
      return false;
    }
    let s = this.watches.get(path);
    let uids = new Set<string>();
    if (s && s.ino !== ino) {
      // The directory was removed and made again: the old watch sees nothing.
      s.watcher.close();
      this.watches.delete(path);
      uids = s.uids;
      s = undefined;
    }
    if (!s) {
      let watcher: FSWatcher;
      try {
        watcher = watch(path, { persistent: false }, () => this.onEvent(path));
      } catch {
        return false;
      }
      watcher.on('error', () => this.onWatchError(path));
      s = { watcher, ino, uids };
      this.watches.set(path, s);
    }
    s.uids.add(uid);
    return true;
  }

  private leave(path: string, uid: string): void {
    const s = this.watches.get(path);
    if (!s) return;
    s.uids.delete(uid);
    if (s.uids.size === 0) {
      s.watcher.close();
      this.watches.delete(path);
    }
  }

  private onEvent(path: string): void {
    // Something appeared or went: a cached scan may be out of date.
    this.discovery.invalidateScan();
    for (const uid of this.watches.get(path)?.uids ?? []) this.schedule(uid);
  }

  private onWatchError(path: string): void {
    const s = this.watches.get(path);
    if (!s) return;
    s.watcher.close();
    this.watches.delete(path);
    for (const uid of s.uids) {
      this.pods.get(uid)?.paths.delete(path);
      this.schedule(uid);
    }
  }
}
