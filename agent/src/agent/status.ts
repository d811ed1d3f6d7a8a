// The agent's status document (`weft status`, the admin API's /status).
import { destinationRuleConflicts, type NodeWorkload, routeStatuses } from '../compile/index.ts';
import type { NodeDatapath } from '../datapath/index.ts';
import type { IdentityManager } from '../identity/index.ts';
import type { NodeProxy } from '../proxy/index.ts';
import type { SnapshotSource } from '../sources/index.ts';
import type { Snapshot } from '../state/index.ts';
import { LAYOUT_VERSION } from '../tables/index.ts';
import type { AgentLifecycle, AgentStatus, MemoryReleases } from '../telemetry/index.ts';

export interface StatusParts {
  node: string;
  snapshotVersion: number;
  workloads: readonly NodeWorkload[];
  workloadErrors: ReadonlyMap<string, string>;
  proxy: NodeProxy;
  identities: IdentityManager | null;
  source: SnapshotSource;
  datapath: NodeDatapath | undefined;
  snapshot: Snapshot | null;
  lifecycle?: (() => AgentLifecycle) | undefined;
  /** The counts of memory given back when quiet; null when off (WEFT_MEMORY_RETURN=0). */
  memory?: Readonly<MemoryReleases> | null;
}

export function agentStatus(s: StatusParts): AgentStatus {
  const byKey = new Map(s.proxy.list().map((p) => [p.workload.key, p]));
  return {
    node: s.node,
    layoutVersion: LAYOUT_VERSION,
    snapshotVersion: s.snapshotVersion,
    workloads: s.workloads.map((w) => {
      const p = byKey.get(w.key);
      return {
        key: w.key,
        podIP: w.podIP ?? null,
        podIPs: [...w.podIPs],
        serviceAccount: w.serviceAccount,
        enrolled: p !== undefined,
        reason: s.workloadErrors.get(w.key) ?? w.reason,
        workloadId: p?.workloadId ?? null,
        listeners: p ? p.listeners.addresses.map((l) => `${l.role} ${l.address}:${l.port}`) : [],
      };
    }),
    mtls: s.identities !== null,
    identities: s.identities?.status() ?? [],
    proxy: {
      outbound: { ...s.proxy.stats.outbound },
      inbound: { ...s.proxy.stats.inbound },
      hbone: { ...s.proxy.hboneGuard.counters },
      connections: s.proxy.connections.size,
      revoked: s.proxy.connections.revoked,
    },
    rejected: s.source.errors().map((e) => ({ ...e })),
    routes: s.snapshot ? routeStatuses(s.snapshot) : [],
    rateLimits: [...s.proxy.inboundL7.limiters.counts()].map(([policy, c]) => ({ policy, ...c })),
    balancers: s.proxy.l7.pools.snapshot().map((b) => ({ ...b, endpoints: [...b.endpoints] })),
    destinationRuleConflicts: s.snapshot
      ? destinationRuleConflicts(s.snapshot).map((c) => c.message)
      : [],
    datapathEventsSuppressed: s.datapath?.suppressedEvents() ?? 0,
    retries: s.proxy.l7.retryStatus(),
    ...(s.lifecycle ? { lifecycle: s.lifecycle() } : {}),
    ...(s.memory ? { memory: { ...s.memory } } : {}),
  };
}
