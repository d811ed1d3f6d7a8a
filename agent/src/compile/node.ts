// Everything one node applies, from one snapshot: the workload table, the
// proxy's tables (Services, mesh peers, policy, per-workload decisions) and each enrolled workload's
// NetworkPolicy tables for the kernel. Pure: the agent's apply phase diffs this
// against what is installed and writes the difference.
import type { MtlsMode, Snapshot } from '../state/index.ts';
import type {
  MeshPeer,
  NodeDecisions,
  NodeWorkload,
  PeerTable,
  PolicyTables,
  RouteTables,
  ServiceTarget,
} from '../tables/index.ts';
import { compileDecisions } from './decisions.ts';
import { compileWorkloads } from './enrollment.ts';
import { compileEgress, compilePeerTable } from './netpol.ts';
import { compilePeers } from './peers.ts';
import { compilePolicy } from './policy.ts';
import { compileRateLimits } from './rate-limits.ts';
import { compileRoutes } from './routes.ts';
import { compileServices } from './services.ts';

export interface NodeSettings {
  readonly node: string;
  readonly trustDomain: string;
  readonly rootNamespace: string;
  readonly mtlsDefault?: MtlsMode;
}

/** A workload's kernel tables, or why they could not be compiled (its maps are left as they are). */
export type WorkloadPeerTables =
  | { readonly egress: PeerTable; readonly ingress: PeerTable }
  | { readonly error: string };

export interface NodeTables {
  readonly version: number;
  /** The pods scheduled on the node, sorted by key, each with its enrollment. */
  readonly workloads: NodeWorkload[];
  readonly policy: PolicyTables;
  readonly peers: Map<string, MeshPeer>;
  readonly services: Map<string, ServiceTarget>;
  /** By workload key, for each enrolled workload whose pod is in the snapshot. */
  readonly peerTables: ReadonlyMap<string, WorkloadPeerTables>;
  /** The proxy's per-connection decisions for the same workloads (compile/decisions.ts). */
  readonly decisions: NodeDecisions;
  /** The L7 engine's route tables: Service VIP ports read as HTTP or with routes. */
  readonly routes: RouteTables;
}

export function compileNode(snap: Snapshot, s: NodeSettings): NodeTables {
  const workloads = compileWorkloads(snap, s.node, s.mtlsDefault);
  const peerTables = new Map<string, WorkloadPeerTables>();
  for (const w of workloads) {
    if (!w.enrolled) continue;
    const pod = snap.pods.get(w.key);
    if (!pod) continue;
    try {
      peerTables.set(w.key, {
        egress: compileEgress(snap, pod.namespace, pod.labels),
        ingress: compilePeerTable(snap, pod.namespace, pod.labels, 'ingress', pod.ports),
      });
    } catch (e) {
      peerTables.set(w.key, { error: (e as Error).message });
    }
  }
  const policy = compilePolicy(snap, s.trustDomain, s.rootNamespace);
  const services = compileServices(snap);
  const enrolled = workloads.filter((w) => w.enrolled).map((w) => w.key);
  return {
    version: snap.version,
    workloads,
    policy,
    peers: compilePeers(snap, s.trustDomain),
    services,
    peerTables,
    decisions: compileDecisions(policy, services, enrolled, compileRateLimits(snap, s.trustDomain)),
    routes: compileRoutes(snap),
  };
}
