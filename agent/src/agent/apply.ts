// The apply phase: a node's compiled tables (compileNode) against what is
// installed, writing only the difference: the proxy's tables, mesh peers,
// which workloads are enrolled (proxy listeners and kernel entries), and each
// enrolled workload's NetworkPolicy tables in the kernel.
import { existsSync, statSync } from 'node:fs';
import type { NodeTables, NodeWorkload } from '../compile/index.ts';
import { cgroupId, type EnrolledEntry, type NodeDatapath } from '../datapath/index.ts';
import type { NodeProxy } from '../proxy/index.ts';
import type { IdAllocator } from './ids.ts';

export interface Applied {
  workload: NodeWorkload;
  id: number;
  cgroup: bigint;
  /** The pod's netns as the kernel knows it: a pod re-created at the same paths differs here. */
  netnsIno: number;
}

/** The cgroup id and netns inode now at a workload's paths, or undefined when gone. */
function kernelIdentity(w: NodeWorkload): { cgroup: bigint; netnsIno: number } | undefined {
  try {
    return { cgroup: cgroupId(w.cgroupDir!), netnsIno: statSync(w.netnsPath!).ino };
  } catch {
    return undefined;
  }
}

/** What the datapath steers and polices for an enrolled workload: every address of the pod. */
export function enrolledEntry(w: NodeWorkload): EnrolledEntry {
  return {
    cgroupDir: w.cgroupDir!,
    podIP: w.podIP!,
    podIPs: w.podIPs,
    netnsPath: w.netnsPath!,
  };
}

export class ApplyPhase {
  /** What is installed, by workload key. */
  readonly applied = new Map<string, Applied>();
  /** Why a workload is not (fully) as compiled, by workload key; `weft status` shows it. */
  readonly workloadErrors = new Map<string, string>();

  private readonly datapath: NodeDatapath;
  private readonly proxy: NodeProxy;
  private readonly ids: IdAllocator;
  private readonly log: (line: string) => void;

  constructor(
    datapath: NodeDatapath,
    proxy: NodeProxy,
    ids: IdAllocator,
    log: (line: string) => void,
  ) {
    this.datapath = datapath;
    this.proxy = proxy;
    this.ids = ids;
    this.log = log;
  }

  /** The key of the workload installed under a workload id. */
  keyOf(id: number): string | undefined {
    return [...this.applied.values()].find((a) => a.id === id)?.workload.key;
  }

  /** The proxy's tables, swapped whole, and the mesh peers' addresses in the kernel. */
  setTables(tables: NodeTables): void {
    const { peers } = tables;
    this.proxy.setTables({
      version: tables.version,
      services: tables.services,
      decisions: tables.decisions,
      routes: tables.routes,
      peers,
      policy: tables.policy,
    });
    // Strict mTLS admits UDP (never tunnelled) from mesh pods' addresses only.
    this.datapath.setMeshPeers(peers.keys());
  }

  /**
   * Enrollment and each workload's kernel tables made what `tables` says.
   * `first`: the first snapshot since start, when entries an earlier agent left go.
   */
  async apply(tables: NodeTables, first: boolean): Promise<void> {
    const { workloads } = tables;
    const want = new Map(workloads.filter((w) => w.enrolled).map((w) => [w.key, w]));

    for (const [key, a] of this.applied) {
      const w = want.get(key);
      if (
        w &&
        w.podIP === a.workload.podIP &&
        w.podIPs.join() === a.workload.podIPs.join() &&
        w.netnsPath === a.workload.netnsPath &&
        w.cgroupDir === a.workload.cgroupDir &&
        w.serviceAccount === a.workload.serviceAccount &&
        kernelIdentity(w)?.cgroup === a.cgroup &&
        kernelIdentity(w)?.netnsIno === a.netnsIno
      ) {
        // A change of mTLS mode is one map update; listeners and connections stay.
        if (w.strict !== a.workload.strict) {
          this.datapath.setStrict(a.id, enrolledEntry(w), w.strict);
          a.workload = w;
        }
        continue;
      }
      this.takeOut(key, a);
    }
    // Enrolled before this agent started but no longer wanted (or gone).
    const known = new Set([...this.applied.values()].map((a) => a.cgroup));
    const wanted = new Set(
      [...want.values()].filter((w) => existsSync(w.cgroupDir!)).map((w) => cgroupId(w.cgroupDir!)),
    );
    for (const cg of this.ids.cgroups()) {
      if (known.has(cg) || wanted.has(cg)) continue;
      const id = this.ids.id(cg)!;
      this.datapath.unenroll(id, {});
      this.ids.release(cg);
    }
    this.datapath.prunePods(new Set([...want.values()].map((w) => w.netnsPath!)));

    for (const [key, w] of want) {
      if (this.applied.has(key)) continue;
      try {
        await this.bringIn(w);
        this.workloadErrors.delete(key);
      } catch (e) {
        this.workloadErrors.set(key, (e as Error).message);
        this.log(`enroll ${key} failed: ${(e as Error).message}`);
      }
    }
    // NetworkPolicy of each enrolled workload (whose pod is in the snapshot) into the
    // kernel's maps: egress for connect(), ingress from plaintext peers for sk_lookup.
    for (const a of this.applied.values()) {
      const compiled = tables.peerTables.get(a.workload.key);
      if (!compiled) continue;
      const at = enrolledEntry(a.workload);
      try {
        if ('error' in compiled) throw new Error(compiled.error);
        const { egress, ingress } = compiled;
        this.datapath.setPeerTable('egress', a.id, at, egress);
        this.datapath.setPeerTable('ingress', a.id, at, ingress);
        // What the kernel enforces more narrowly than written (it fails closed) is said in status.
        const narrower = [
          ...(egress.unenforced ?? []).map((n) => `egress ${n}`),
          ...(ingress.unenforced ?? []).map((n) => `ingress ${n}`),
        ];
        if (narrower.length)
          this.workloadErrors.set(
            a.workload.key,
            `network policy enforced narrower than written: ${narrower.join('; ')}`,
          );
        else if (this.workloadErrors.get(a.workload.key)?.startsWith('network policy'))
          this.workloadErrors.delete(a.workload.key);
      } catch (e) {
        this.workloadErrors.set(a.workload.key, `network policy: ${(e as Error).message}`);
      }
    }
    if (first) this.datapath.prunePeerTables();
  }

  private async bringIn(w: NodeWorkload): Promise<void> {
    const cgroup = cgroupId(w.cgroupDir!);
    const id = this.ids.idFor(cgroup);
    const p = await this.proxy.add(w, id);
    try {
      this.datapath.enroll(
        id,
        enrolledEntry(w),
        p.listeners.inboundFd,
        w.strict,
        p.listeners.inboundFd6,
      );
    } catch (e) {
      this.proxy.remove(w.key);
      throw e;
    }
    this.applied.set(w.key, { workload: w, id, cgroup, netnsIno: statSync(w.netnsPath!).ino });
  }

  private takeOut(key: string, a: Applied): void {
    const w = a.workload;
    this.datapath.unenroll(a.id, {
      cgroupDir: w.cgroupDir,
      podIP: w.podIP,
      podIPs: w.podIPs,
      netnsPath: w.netnsPath,
    });
    this.proxy.remove(key);
    this.ids.release(a.cgroup);
    this.applied.delete(key);
  }
}
