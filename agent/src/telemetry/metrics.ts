// The node's counters in the Prometheus text format (served on :15020/metrics).
// Pure: a status document in, the exposition text out.
import type { AgentStatus, DirectionCounters } from './status.ts';

type Sample = readonly [labels: Record<string, string>, value: number];

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function family(name: string, type: 'counter' | 'gauge', help: string, samples: Sample[]): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
  for (const [labels, value] of samples) {
    const l = Object.entries(labels)
      .map(([k, v]) => `${k}="${esc(v)}"`)
      .join(',');
    lines.push(`${name}${l ? `{${l}}` : ''} ${value}`);
  }
  return lines.join('\n');
}

function perDirection(s: AgentStatus, pick: (d: DirectionCounters) => number): Sample[] {
  return [
    [{ direction: 'outbound' }, pick(s.proxy.outbound)],
    [{ direction: 'inbound' }, pick(s.proxy.inbound)],
  ];
}

export function renderMetrics(s: AgentStatus, ready: boolean, now = Date.now()): string {
  const node = { node: s.node };
  const enrolled = s.workloads.filter((w) => w.enrolled).length;
  const expiry: Sample[] = s.identities
    .filter((i) => i.notAfter)
    .map((i) => [{ spiffe_id: i.spiffeId }, (Date.parse(i.notAfter!) - now) / 1000]);
  return `${[
    family('weft_agent_ready', 'gauge', 'Whether the agent has its initial cluster state.', [
      [node, ready ? 1 : 0],
    ]),
    family('weft_snapshot_version', 'gauge', 'Version of the cluster snapshot applied.', [
      [node, s.snapshotVersion],
    ]),
    family('weft_workloads', 'gauge', 'Pods on this node, by whether they are in the mesh.', [
      [{ enrolled: 'true' }, enrolled],
      [{ enrolled: 'false' }, s.workloads.length - enrolled],
    ]),
    family('weft_rejected_objects', 'gauge', 'Cluster objects rejected as malformed.', [
      [node, s.rejected.length],
    ]),
    family(
      'weft_datapath_events_suppressed_total',
      'counter',
      'Refused-datagram verdict events the kernel left out over its per-second limit (the verdicts stand).',
      [[node, s.datapathEventsSuppressed ?? 0]],
    ),
    family(
      'weft_proxy_connections_total',
      'counter',
      'Connections the proxy accepted.',
      perDirection(s, (d) => d.accepted),
    ),
    family(
      'weft_proxy_connections_active',
      'gauge',
      'Connections open through the proxy.',
      perDirection(s, (d) => d.active),
    ),
    family(
      'weft_proxy_connections_failed_total',
      'counter',
      'Connections that could not be forwarded.',
      perDirection(s, (d) => d.failed),
    ),
    family(
      'weft_proxy_connections_reset_total',
      'counter',
      'Connections ended by a reset.',
      perDirection(s, (d) => d.reset),
    ),
    family(
      'weft_proxy_handler_errors_total',
      'counter',
      'Connections whose handling failed with an internal error (a bug); each was aborted alone.',
      perDirection(s, (d) => d.errors),
    ),
    family(
      'weft_proxy_received_bytes_total',
      'counter',
      'Bytes from the connecting side.',
      perDirection(s, (d) => d.bytesFromClient),
    ),
    family(
      'weft_proxy_sent_bytes_total',
      'counter',
      'Bytes to the connecting side.',
      perDirection(s, (d) => d.bytesToClient),
    ),
    family(
      'weft_identity_expiry_seconds',
      'gauge',
      'Seconds until each workload certificate expires.',
      expiry,
    ),
  ].join('\n')}\n`;
}
