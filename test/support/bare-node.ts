// What AgentMetrics reads when scraped (weft's own families come from a status
// document): a node's, without workloads, over these proxy counters.
import type { AgentMetrics } from '../../agent/src/telemetry/metrics.ts';
import { ProxyStats } from '../../agent/src/telemetry/stats.ts';

/** Binds metrics to a bare node's status; returns the counters it reads. */
export function bindBareNode(metrics: AgentMetrics, node: string): ProxyStats {
  const stats = new ProxyStats();
  metrics.bind({
    ready: () => true,
    status: () => ({
      node,
      layoutVersion: 1,
      snapshotVersion: 1,
      workloads: [],
      proxy: { outbound: stats.outbound, inbound: stats.inbound },
      mtls: true,
      identities: [],
      rejected: [],
    }),
  });
  return stats;
}
