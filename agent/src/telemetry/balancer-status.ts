// The balancer part of the status document: per Service port this node sends to, the
// policy in force (a DestinationRule's or the default), breaker counters, and each
// endpoint in the pool or ejected until when. Filled from the proxy's Pools (l7/).

export interface EndpointStatus {
  ip: string;
  port: number;
  pod: string;
  outstanding: number;
  latencyMs: number | null;
  requests: number;
  failures: number;
  /** ISO time it is back in the pool; null: in the pool. */
  ejectedUntil: string | null;
  timesEjected: number;
}

export interface BalancerStatus {
  /** `namespace/name:port` */
  service: string;
  lb: string;
  /** The DestinationRule in force, null: the defaults. */
  from: string | null;
  inFlight: number;
  /** Refused at once by a connectionPool limit (503, flag overflow). */
  overflows: number;
  ejections: number;
  endpoints: EndpointStatus[];
}

/** The human form: one line per Service port, one per endpoint under it. */
export function formatBalancers(
  balancers: readonly BalancerStatus[] | undefined,
  conflicts: readonly string[] | undefined,
): string[] {
  const lines: string[] = [];
  if (balancers?.length) {
    lines.push('', 'SERVICE PORT / BALANCER / IN FLIGHT / OVERFLOWS / EJECTIONS');
    for (const b of balancers) {
      lines.push(
        `  ${b.service}  ${b.lb}${b.from ? ` (${b.from})` : ' (default)'}  ${b.inFlight} in flight  ${b.overflows} overflows  ${b.ejections} ejections`,
      );
      for (const e of b.endpoints)
        lines.push(
          `    ${e.pod} ${e.ip}:${e.port}  ${e.ejectedUntil ? `ejected until ${e.ejectedUntil}` : 'in pool'}  ${e.outstanding} outstanding  ${e.latencyMs === null ? '-' : `${e.latencyMs} ms`}  ${e.requests} sent  ${e.failures} failed`,
        );
    }
  }
  if (conflicts?.length) {
    lines.push('', 'DestinationRules not applied:');
    for (const c of conflicts) lines.push(`  ${c}`);
  }
  return lines;
}
