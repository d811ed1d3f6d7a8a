// The Prometheus exposition of a node's status.
import { describe, expect, it } from 'vitest';
import { emptyPolicy } from '../../../agent/src/tables/policy.ts';
import { AgentMetrics } from '../../../agent/src/telemetry/metrics.ts';
import type { AgentStatus } from '../../../agent/src/telemetry/status.ts';

const counters = (n: number) => ({
  accepted: n,
  active: 1,
  failed: 2,
  reset: 3,
  errors: n - 5,
  bytesFromClient: 100 * n,
  bytesToClient: 200 * n,
});

const status: AgentStatus = {
  node: 'node-1',
  layoutVersion: 6,
  snapshotVersion: 42,
  workloads: [
    {
      key: 'shop/a',
      podIP: '10.0.0.1',
      serviceAccount: 'a',
      enrolled: true,
      reason: '',
      workloadId: 1,
      listeners: [],
    },
    {
      key: 'x/b',
      podIP: null,
      serviceAccount: 'b',
      enrolled: false,
      reason: 'no',
      workloadId: null,
      listeners: [],
    },
  ],
  proxy: { outbound: counters(5), inbound: counters(7) },
  mtls: true,
  identities: [
    {
      spiffeId: 'spiffe://cluster.local/ns/shop/sa/"a"',
      serial: '1',
      notAfter: '2026-12-01T01:00:00.000Z',
      error: null,
    },
    {
      spiffeId: 'spiffe://cluster.local/ns/shop/sa/b',
      serial: null,
      notAfter: null,
      error: 'pending',
    },
  ],
  rejected: [{ file: 'f', object: 'o', field: 'spec', message: 'm' }],
  datapathEventsSuppressed: 12,
  retries: {
    counts: { retried: 9, budget_exhausted: 3, overflow: 1, body_too_large: 2 },
    budgets: [],
  },
  memory: { collections: 4, trims: 6 },
};

/** The node's exposition from its metrics, as /metrics serves it. */
async function renderMetrics(s: AgentStatus, ready: boolean, now = Date.now()): Promise<string> {
  const m = new AgentMetrics({
    node: s.node,
    tables: () => emptyPolicy,
    runtime: false,
    now: () => now,
  });
  m.bind({ status: () => s, ready: () => ready });
  return m.render();
}

describe('renderMetrics', async () => {
  const text = await renderMetrics(status, true, Date.parse('2026-12-01T00:00:00.000Z'));
  const lines = text.split('\n');

  it('declares every family once, with HELP and TYPE before its samples', () => {
    const declared = new Set<string>();
    for (const [i, l] of lines.entries()) {
      if (l.startsWith('# TYPE ')) {
        const name = l.split(' ')[2]!;
        expect(lines[i - 1]).toMatch(new RegExp(`^# HELP ${name} \\S`));
        expect(declared.has(name)).toBe(false);
        declared.add(name);
      } else if (l && !l.startsWith('#')) {
        // A histogram's samples are its name with _bucket, _sum or _count.
        const name = l.split(/[{ ]/)[0]!;
        expect(declared.has(name) || declared.has(name.replace(/_(bucket|sum|count)$/, ''))).toBe(
          true,
        );
      }
    }
    expect(text.endsWith('\n')).toBe(true);
  });

  it('counts the refused-datagram events the kernel left out', () => {
    expect(lines).toContain('weft_datapath_events_suppressed_total{node="node-1"} 12');
  });

  it('carries the counters, per direction and per enrollment', () => {
    expect(lines).toContain('weft_proxy_connections_total{direction="outbound"} 5');
    expect(lines).toContain('weft_proxy_connections_total{direction="inbound"} 7');
    expect(lines).toContain('weft_proxy_sent_bytes_total{direction="inbound"} 1400');
    expect(lines).toContain('weft_proxy_handler_errors_total{direction="outbound"} 0');
    expect(lines).toContain('weft_proxy_handler_errors_total{direction="inbound"} 2');
    expect(lines).toContain('weft_l7_retries_total{outcome="retried"} 9');
    expect(lines).toContain('weft_l7_retries_total{outcome="budget_exhausted"} 3');
    expect(lines).toContain('weft_workloads{enrolled="true"} 1');
    expect(lines).toContain('weft_workloads{enrolled="false"} 1');
    expect(lines).toContain('weft_rejected_objects{node="node-1"} 1');
    expect(lines).toContain('weft_snapshot_version{node="node-1"} 42');
    expect(lines).toContain('weft_agent_ready{node="node-1"} 1');
    expect(lines).toContain('weft_memory_releases_total{kind="collection"} 4');
    expect(lines).toContain('weft_memory_releases_total{kind="trim"} 6');
  });

  it('has no memory release samples when memory return is off', async () => {
    const off = await renderMetrics({ ...status, memory: undefined }, true);
    expect(off.split('\n').filter((l) => l.startsWith('weft_memory_releases_total'))).toEqual([]);
  });

  it('gives seconds to expiry for issued certificates only, with label values escaped', () => {
    const expiry = lines.filter((l) => l.startsWith('weft_identity_expiry_seconds{'));
    expect(expiry).toEqual([
      'weft_identity_expiry_seconds{spiffe_id="spiffe://cluster.local/ns/shop/sa/\\"a\\""} 3600',
    ]);
  });

  it('says not ready as 0', async () => {
    expect(await renderMetrics(status, false)).toContain('weft_agent_ready{node="node-1"} 0');
  });
});
