// What `weft status` shows for a node: the admin API's /status document.
import type { RouteParentStatus } from '../state/index.ts';
import { type BalancerStatus, formatBalancers } from './balancer-status.ts';
import { type AgentLifecycle, formatLifecycle } from './lifecycle.ts';
import type { HboneCounters } from './stats.ts';

export interface WorkloadStatus {
  key: string;
  podIP: string | null;
  /** Every address of the pod (dual stack), podIP first. */
  podIPs?: string[];
  serviceAccount: string;
  enrolled: boolean;
  reason: string;
  workloadId: number | null;
  listeners: string[];
}

export interface DirectionCounters {
  accepted: number;
  active: number;
  failed: number;
  reset: number;
  /** Connections whose handler threw (a bug), aborted alone. */
  errors: number;
  bytesFromClient: number;
  bytesToClient: number;
}

/** The L7 engine's retries: what retrying came to, and the budgets spent in their window. */
export interface RetryStatus {
  counts: { retried: number; budget_exhausted: number; overflow: number; body_too_large: number };
  /** Per (client workload, Service port) with retries in the window (at most 100 listed). */
  budgets: {
    client: string;
    service: string;
    used: number;
    allowed: number;
    outstanding: number;
    exhausted: number;
  }[];
}

export interface AgentStatus {
  node: string;
  layoutVersion: number;
  snapshotVersion: number;
  workloads: WorkloadStatus[];
  proxy: {
    outbound: DirectionCounters;
    inbound: DirectionCounters;
    /** What the HBONE servers' bounds turned away (proxy/hbone/limits.ts). */
    hbone?: HboneCounters;
    /** Connections carried now, registered by the workload whose policy admitted them. */
    connections?: number;
    /** Connections reset because a policy change no longer allowed them (--revoke-on-policy-change). */
    revoked?: number;
  };
  /** Whether the node speaks mTLS (it has an issuer). */
  mtls: boolean;
  identities: {
    spiffeId: string;
    serial: string | null;
    notAfter: string | null;
    error: string | null;
  }[];
  /** failsClosed: the object is in force as a deny of everything it selects. */
  rejected: {
    file: string;
    object: string;
    field: string;
    message: string;
    failsClosed?: boolean;
  }[];
  /** Refused-datagram events the kernel left out, over its limit per second (verdicts stand). */
  datapathEventsSuppressed?: number;
  /** Gateway API routes in force, with their conditions per parent Service. */
  routes?: { route: string; parents: RouteParentStatus[] }[];
  /** Requests each HTTPLocalRateLimitPolicy let through and answered 429 on this node, since start. */
  rateLimits?: { policy: string; allowed: number; limited: number }[];
  /** Retries of the L7 engine (docs/resilience.md). */
  retries?: RetryStatus;
  /** Generation, start time, handover (telemetry/lifecycle.ts). */
  lifecycle?: AgentLifecycle;
  /** Per Service port this node sends to: balancer, breaker counters, endpoints (balancer-status.ts). */
  balancers?: BalancerStatus[];
  /** DestinationRules left out because another one for the same host is in force. */
  destinationRuleConflicts?: string[];
  /** Memory given back when quiet (agent/memory.ts), since start; absent when off. */
  memory?: MemoryReleases;
}

export interface MemoryReleases {
  /** Full collections of V8's heap. */
  collections: number;
  /** malloc_trim calls that handed the allocator's free memory back to the kernel. */
  trims: number;
}

function pad(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** The human form of a status document. */
export function formatStatus(s: AgentStatus): string {
  const rows = [['WORKLOAD', 'IP', 'MESH', 'ID', 'LISTENERS', 'WHY']];
  for (const w of s.workloads) {
    rows.push([
      w.key,
      w.podIPs?.length ? w.podIPs.join(',') : (w.podIP ?? '-'),
      w.enrolled ? 'enrolled' : 'no',
      w.workloadId === null ? '-' : String(w.workloadId),
      w.listeners.length ? w.listeners.join(', ') : '-',
      w.reason,
    ]);
  }
  const o = s.proxy.outbound;
  const i = s.proxy.inbound;
  const lines = [
    `node ${s.node}  (snapshot ${s.snapshotVersion}, map layout ${s.layoutVersion})`,
    ...(s.lifecycle ? formatLifecycle(s.lifecycle) : []),
    '',
    s.workloads.length ? pad(rows) : 'no pods on this node',
    '',
    `proxy outbound: ${o.accepted} accepted, ${o.active} active, ${o.failed} failed, ${o.reset} reset${o.errors ? `, ${o.errors} internal errors` : ''}`,
    `proxy inbound:  ${i.accepted} accepted, ${i.active} active, ${i.failed} failed, ${i.reset} reset${i.errors ? `, ${i.errors} internal errors` : ''}`,
    s.memory
      ? `memory given back when quiet: ${s.memory.collections} full collections, ${s.memory.trims} trims`
      : 'memory given back when quiet: off (WEFT_MEMORY_RETURN=0)',
  ];
  if (s.mtls) {
    lines.push('', s.identities.length ? 'IDENTITY / SERIAL / EXPIRES' : 'no identities yet');
    for (const id of s.identities) {
      lines.push(
        `  ${id.spiffeId}  ${id.serial ?? '-'}  ${id.notAfter ?? '-'}${id.error ? `  (${id.error})` : ''}`,
      );
    }
  } else {
    lines.push('', 'mTLS: off (no issuer configured); traffic between nodes is plaintext');
  }
  const closed = s.rejected.filter((r) => r.failsClosed);
  const kept = s.rejected.filter((r) => !r.failsClosed);
  if (closed.length) {
    lines.push('', 'policies failing closed (all traffic to the workloads they select is denied):');
    for (const r of closed)
      lines.push(`  ${r.file}: ${r.object}: ${r.field || '(document)'}: ${r.message}`);
  }
  if (kept.length) {
    lines.push('', 'rejected objects (the last good version is in force):');
    for (const r of kept)
      lines.push(`  ${r.file}: ${r.object}: ${r.field || '(document)'}: ${r.message}`);
  }
  lines.push(...formatRoutes(s));
  if (s.rateLimits?.length) {
    lines.push('', 'rate limits (requests since the agent started):');
    for (const r of s.rateLimits)
      lines.push(
        `  HTTPLocalRateLimitPolicy ${r.policy}  ${r.allowed} allowed, ${r.limited} limited`,
      );
  }
  lines.push(...formatRetries(s.retries));
  lines.push(...formatBalancers(s.balancers, s.destinationRuleConflicts));
  return `${lines.join('\n')}\n`;
}

/** Routes in force with their conditions, and refused ones (with or without a last good version). */
function formatRoutes(s: AgentStatus): string[] {
  const routes = s.routes ?? [];
  const refused = s.rejected.filter((r) => /^(HTTPRoute|GRPCRoute) /.test(r.object));
  if (routes.length === 0 && refused.length === 0) return [];
  const lines = ['', 'ROUTE / PARENT / CONDITIONS'];
  for (const r of routes)
    for (const p of r.parents) {
      const parent = `${p.parentRef.namespace}/${p.parentRef.name}${p.parentRef.port ? `:${p.parentRef.port}` : ''}`;
      const conds = p.conditions
        .map((c) => (c.status === 'True' ? c.type : `${c.type}=False ${c.reason}: ${c.message}`))
        .join(', ');
      lines.push(`  ${r.route}  ${parent}  ${conds}`);
    }
  const inForce = new Set(routes.map((r) => r.route));
  for (const r of refused)
    lines.push(
      `  ${r.object}  refused  ${r.file}: ${r.field || '(document)'}: ${r.message} (${inForce.has(r.object) ? 'its last good version is in force' : 'not in force'})`,
    );
  return lines;
}

/** Retry counts, and each budget spent in its window (used of allowed). */
function formatRetries(r: RetryStatus | undefined): string[] {
  if (!r) return [];
  const c = r.counts;
  if (c.retried + c.budget_exhausted + c.overflow + c.body_too_large === 0) return [];
  const lines = [
    '',
    `retries: ${c.retried} retried, ${c.budget_exhausted} over budget, ${c.overflow} over maxRetries, ${c.body_too_large} with bodies too large`,
  ];
  if (r.budgets.length === 0) return lines;
  const rows = [['CLIENT', 'SERVICE PORT', 'RETRIES (10 s)', 'OUTSTANDING', 'REFUSED']];
  for (const b of r.budgets)
    rows.push([
      b.client,
      b.service,
      `${b.used}/${b.allowed}`,
      String(b.outstanding),
      String(b.exhausted),
    ]);
  lines.push(pad(rows));
  return lines;
}
