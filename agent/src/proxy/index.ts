// The node proxy: listeners per enrolled workload, outbound and inbound
// pipelines, tables swapped whole by the agent. The per-connection path reads
// tables, never awaits the control plane, never logs.
import type { NodeWorkload } from '../compile/enrollment.ts';
import { handleInbound } from './inbound.ts';
import { WorkloadListeners } from './listeners.ts';
import { handleOutbound, type OrigLookup, type OutboundContext } from './outbound.ts';
import { SocketPool } from './socket-pool.ts';
import { ProxyStats } from './stats.ts';
import { Balancer, emptyTables, type ProxyTables } from './tables.ts';

export type { OrigLookup } from './outbound.ts';
export { ProxyStats } from './stats.ts';
export type { ProxyTables } from './tables.ts';

export interface ProxiedWorkload {
  readonly workload: NodeWorkload;
  readonly workloadId: number;
  readonly listeners: WorkloadListeners;
}

export class NodeProxy {
  readonly stats = new ProxyStats();
  private tables: ProxyTables = emptyTables;
  private readonly balancer = new Balancer();
  private readonly pool = new SocketPool();
  private readonly workloads = new Map<string, ProxiedWorkload>();
  private readonly lookup: OrigLookup;

  constructor(lookup: OrigLookup) {
    this.lookup = lookup;
  }

  setTables(t: ProxyTables): void {
    this.tables = t;
  }

  /** Opens the workload's listeners in its netns; returns them (the inbound fd goes to sk_lookup). */
  async add(w: NodeWorkload, workloadId: number): Promise<ProxiedWorkload> {
    const existing = this.workloads.get(w.key);
    if (existing) return existing;
    const netnsPath = w.netnsPath!;
    const out: OutboundContext = {
      workloadId,
      netnsPath,
      stats: this.stats.outbound,
      lookup: this.lookup,
      balancer: this.balancer,
      pool: this.pool,
      tables: () => this.tables,
    };
    const inCtx = { netnsPath, stats: this.stats.inbound, pool: this.pool };
    const listeners = await WorkloadListeners.open(
      netnsPath,
      (s) => handleOutbound(out, s),
      (s) => handleInbound(inCtx, s),
    );
    const p = { workload: w, workloadId, listeners };
    this.workloads.set(w.key, p);
    return p;
  }

  /** Stops listening for the workload; its established connections carry on. */
  remove(key: string): void {
    const p = this.workloads.get(key);
    if (!p) return;
    p.listeners.close();
    this.pool.drop(p.workload.netnsPath!);
    this.workloads.delete(key);
  }

  list(): ProxiedWorkload[] {
    return [...this.workloads.values()];
  }

  close(): void {
    for (const key of [...this.workloads.keys()]) this.remove(key);
    this.pool.close();
  }
}
