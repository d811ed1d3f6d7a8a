// Pod UID → pod cgroup → its processes → the network namespace they share.
// The pod cgroup is looked for where the configured layouts say, then (if
// enabled) by name anywhere under the cgroup root within a bounded depth.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  checkPodUid,
  defaultLayouts,
  isRuntimeHelperCgroup,
  type PodCgroupLayout,
  type QosClass,
} from './layout.ts';
import { cgroupPids, childCgroups, isGone, netnsInode, programName } from './probe.ts';

export interface ScanOptions {
  /** Directory levels below the cgroup root to look at (kind seen from the host needs ~6). */
  readonly maxDepth: number;
  /** Directories read at most per scan, whatever the depth. */
  readonly maxDirs: number;
  /** A scan's findings serve every pod looked up within this many ms (one walk, many pods). */
  readonly ttlMs: number;
}

export const DEFAULT_SCAN: ScanOptions = { maxDepth: 6, maxDirs: 4000, ttlMs: 2000 };

export interface DiscoveryOptions {
  /** The host's cgroup2 mount as the agent sees it, e.g. /host/sys/fs/cgroup. */
  readonly cgroupRoot: string;
  /** The host's procfs as the agent sees it, e.g. /host/proc (it must show host pids). */
  readonly procRoot: string;
  /** Where pod cgroups are named; default: the kubelet's, under DEFAULT_KUBEPODS_DIRS. */
  readonly layouts?: readonly PodCgroupLayout[];
  /** The fallback search by directory name; false turns it off. */
  readonly scan?: ScanOptions | false;
  /**
   * Namespace files whose netns is the host's: a pod whose processes are all
   * in one of them is reported as hostNetwork, never enrolled. Default: the
   * host's init (<procRoot>/1/ns/net) and the agent's own (/proc/self/ns/net,
   * the node's netns since the agent runs with hostNetwork). Reading PID 1's
   * needs ptrace rights over init that some hosts refuse even to root, so
   * unreadable entries are skipped; at least one must be readable.
   */
  readonly hostNetns?: readonly string[];
}

interface Found {
  readonly uid: string;
  /** Absolute path of the pod cgroup. */
  readonly cgroupDir: string;
  readonly layout: string;
}

/** The pod's processes live in their own netns: this is the one to enroll. */
export interface PodReady extends Found {
  readonly status: 'ready';
  /**
   * <procRoot>/<pid>/ns/net. Valid only while that process lives, and the pid
   * may be reused after it exits: open it at once with pinNetns, which checks
   * the inode, and hand the pinned path to the datapath (see pin.ts).
   */
  readonly netnsPath: string;
  readonly netnsIno: number;
  /** The infra (pause) process when there is one, else the lowest pid in the netns. */
  readonly pid: number;
  /** Every pod process found in that netns. */
  readonly pids: readonly number[];
}

/** Every pod process shares the host's netns (spec.hostNetwork): not to be enrolled. */
export interface PodHostNetwork extends Found {
  readonly status: 'hostNetwork';
  readonly pids: readonly number[];
}

/** The cgroup is there but holds no live pod process yet (starting, or all exited). */
export interface PodPending extends Found {
  readonly status: 'pending';
  readonly error: string;
}

/** No cgroup for the pod: not started on this node, or deleted. */
export interface PodMissing {
  readonly status: 'missing';
  readonly uid: string;
  readonly error: string;
  /** The absolute paths that were tried, in order. */
  readonly tried: readonly string[];
}

export type PodResolution = PodReady | PodHostNetwork | PodPending | PodMissing;

// Container cgroups may nest (a container that manages its own cgroups); two
// levels below the pod cgroup cover the runtimes' own layouts.
const CONTAINER_DEPTH = 2;

export class PodDiscovery {
  readonly cgroupRoot: string;
  readonly procRoot: string;
  readonly layouts: readonly PodCgroupLayout[];
  readonly scanOptions: ScanOptions | false;
  /** The host's own netns (inodes): processes in them are not a pod's network. */
  readonly hostNetnsInos: ReadonlySet<number>;
  private scanned: { at: number; index: Map<string, Found>; dirs: number } | undefined;

  constructor(opts: DiscoveryOptions) {
    this.cgroupRoot = opts.cgroupRoot;
    this.procRoot = opts.procRoot;
    this.layouts = opts.layouts ?? defaultLayouts();
    this.scanOptions = opts.scan ?? DEFAULT_SCAN;
    if (!existsSync(join(this.cgroupRoot, 'cgroup.procs'))) {
      throw new Error(`cgroupRoot ${this.cgroupRoot}: no cgroup.procs there, not a cgroup2 mount`);
    }
    const hostNs = opts.hostNetns ?? [join(this.procRoot, '1', 'ns', 'net'), '/proc/self/ns/net'];
    const inos = new Set<number>();
    const problems: string[] = [];
    for (const p of hostNs) {
      try {
        inos.add(netnsInode(p));
      } catch (e) {
        problems.push(`${p}: ${(e as Error).message}`);
      }
    }
    if (inos.size === 0) {
      throw new Error(
        `cannot tell the host's netns: none of ${hostNs.join(', ')} is readable (${problems.join('; ')})`,
      );
    }
    this.hostNetnsInos = inos;
  }

  /** The candidate paths of every layout, absolute, in the order they are tried. */
  candidatePaths(uid: string, qos: QosClass): { layout: string; path: string }[] {
    checkPodUid(uid);
    return this.layouts.flatMap((l) =>
      l.candidates(uid, qos).map((p) => ({ layout: l.name, path: join(this.cgroupRoot, p) })),
    );
  }

  /** The pod's cgroup directory, or the paths tried when there is none. */
  findPodCgroup(uid: string, qos: QosClass): Found | { tried: string[]; scanned?: number } {
    const tried: string[] = [];
    for (const c of this.candidatePaths(uid, qos)) {
      tried.push(c.path);
      if (isDir(c.path)) return { uid, cgroupDir: c.path, layout: c.layout };
    }
    if (!this.scanOptions) return { tried };
    const scan = this.scan();
    const hit = scan.index.get(uid);
    // A cached find may be stale (pod deleted since): trust it only if still there.
    if (hit && isDir(hit.cgroupDir)) return hit;
    return { tried, scanned: scan.dirs };
  }

  /** Where the pod's network is now. Never throws for a pod that is missing or exiting. */
  resolve(uid: string, qos: QosClass): PodResolution {
    const f = this.findPodCgroup(uid, qos);
    if (!('cgroupDir' in f)) {
      const scanned =
        f.scanned === undefined || !this.scanOptions
          ? ''
          : `; scanned ${f.scanned} directories to depth ${this.scanOptions.maxDepth} for its name`;
      return {
        status: 'missing',
        uid,
        tried: f.tried,
        error: `pod ${uid} (${qos}): no cgroup under ${this.cgroupRoot}; tried ${f.tried.join(', ')}${scanned}`,
      };
    }
    return this.resolveCgroup(f);
  }

  private resolveCgroup(f: Found): PodResolution {
    const byNetns = new Map<number, number[]>();
    const inHost: number[] = [];
    let seen = 0;
    for (const pid of this.podPids(f.cgroupDir)) {
      let ino: number;
      try {
        ino = netnsInode(join(this.procRoot, String(pid), 'ns', 'net'));
      } catch (e) {
        if (isGone(e)) continue;
        throw e;
      }
      seen++;
      if (this.hostNetnsInos.has(ino)) {
        inHost.push(pid);
        continue;
      }
      const list = byNetns.get(ino) ?? [];
      list.push(pid);
      byNetns.set(ino, list);
    }
    if (seen === 0) {
      return {
        status: 'pending',
        ...f,
        error: `pod ${f.uid}: no live process in ${f.cgroupDir} or its container cgroups yet`,
      };
    }
    if (byNetns.size === 0) {
      return { status: 'hostNetwork', ...f, pids: inHost };
    }
    const [ino, pids] = this.pickNetns(byNetns);
    const infra = pids.find((p) => programName(this.procRoot, p) === 'pause');
    const pid = infra ?? pids[0]!;
    return {
      status: 'ready',
      ...f,
      netnsPath: join(this.procRoot, String(pid), 'ns', 'net'),
      netnsIno: ino,
      pid,
      pids,
    };
  }

  // All containers of a pod share the infra container's netns. Should more
  // than one show up (a process that entered another netns), the infra
  // process decides, then the majority, then the lowest pid.
  private pickNetns(byNetns: Map<number, number[]>): [number, number[]] {
    const groups = [...byNetns.entries()].map(
      ([ino, p]) => [ino, p.sort((a, b) => a - b)] as const,
    );
    const score = ([, p]: readonly [number, number[]]) =>
      p.some((x) => programName(this.procRoot, x) === 'pause') ? Number.MAX_SAFE_INTEGER : p.length;
    groups.sort((a, b) => score(b) - score(a) || a[1][0]! - b[1][0]!);
    const [ino, pids] = groups[0]!;
    return [ino, pids];
  }

  /** Pids of the pod cgroup and its container cgroups, runtime helpers left out; sorted. */
  private podPids(cgroupDir: string): number[] {
    const out = new Set<number>();
    const walk = (dir: string, depth: number) => {
      try {
        for (const p of cgroupPids(dir)) out.add(p);
        if (depth >= CONTAINER_DEPTH) return;
        for (const c of childCgroups(dir)) {
          if (!isRuntimeHelperCgroup(c)) walk(join(dir, c), depth + 1);
        }
      } catch (e) {
        if (!isGone(e)) throw e;
      }
    };
    walk(cgroupDir, 0);
    return [...out].sort((a, b) => a - b);
  }

  /**
   * Every pod cgroup under the root within the bounds, by the layouts' name
   * matchers. Cached for ttlMs so that many missing pods cost one walk.
   */
  private scan(): { index: Map<string, Found>; dirs: number } {
    const opts = this.scanOptions;
    if (!opts) return { index: new Map(), dirs: 0 };
    const now = performance.now();
    if (this.scanned && now - this.scanned.at < opts.ttlMs) return this.scanned;
    const index = new Map<string, Found>();
    let dirs = 0;
    let level = [''];
    for (let depth = 1; depth <= opts.maxDepth && level.length > 0; depth++) {
      const next: string[] = [];
      for (const rel of level) {
        if (dirs >= opts.maxDirs) break;
        let children: string[];
        try {
          children = childCgroups(join(this.cgroupRoot, rel));
        } catch (e) {
          if (isGone(e) || (e as NodeJS.ErrnoException).code === 'EACCES') continue;
          throw e;
        }
        dirs++;
        for (const name of children) {
          const path = rel ? `${rel}/${name}` : name;
          const l = this.layouts.find((x) => x.podUid(name) !== undefined);
          const uid = l?.podUid(name);
          if (l && uid !== undefined) {
            // A pod cgroup's children are its containers: no deeper.
            if (!index.has(uid)) {
              index.set(uid, {
                uid,
                cgroupDir: join(this.cgroupRoot, path),
                layout: `${l.name} (found by scan)`,
              });
            }
          } else {
            next.push(path);
          }
        }
      }
      level = next;
    }
    this.scanned = { at: now, index, dirs };
    return this.scanned;
  }

  /** Forgets the cached scan (the watcher calls this when it saw a pod cgroup appear). */
  invalidateScan(): void {
    this.scanned = undefined;
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
