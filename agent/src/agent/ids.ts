// Workload ids: small integers that index the sk_lookup socket map and tag
// redirected connections. Kept stable across agent restarts by reusing what
// the pinned `enrolled` map already says for a cgroup.
import { INBOUND_V6_SLOT } from '../datapath/index.ts';

// inbound_socks has 16384 slots: the IPv4 listeners below INBOUND_V6_SLOT, the
// IPv6 ones above it; 0 stays unused.
const MAX_ID = INBOUND_V6_SLOT - 1;

export class IdAllocator {
  private readonly byCgroup = new Map<bigint, number>();
  private readonly used = new Set<number>();
  private next = 1;

  constructor(existing: Map<bigint, number>) {
    for (const [cg, id] of existing) {
      this.byCgroup.set(cg, id);
      this.used.add(id);
    }
  }

  idFor(cgroup: bigint): number {
    const have = this.byCgroup.get(cgroup);
    if (have !== undefined) return have;
    for (let i = 0; i < MAX_ID; i++) {
      const id = ((this.next - 1 + i) % MAX_ID) + 1;
      if (!this.used.has(id)) {
        this.used.add(id);
        this.byCgroup.set(cgroup, id);
        this.next = (id % MAX_ID) + 1;
        return id;
      }
    }
    throw new Error(`more than ${MAX_ID} workloads on one node`);
  }

  release(cgroup: bigint): void {
    const id = this.byCgroup.get(cgroup);
    if (id === undefined) return;
    this.byCgroup.delete(cgroup);
    this.used.delete(id);
  }

  /** cgroups that hold an id, for pruning what a restart found but no longer wants. */
  cgroups(): bigint[] {
    return [...this.byCgroup.keys()];
  }

  id(cgroup: bigint): number | undefined {
    return this.byCgroup.get(cgroup);
  }
}
