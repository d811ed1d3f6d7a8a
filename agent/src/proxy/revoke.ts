// A policy change and the connections already carried: with revocation on,
// each registered connection is judged again by the new tables, the way it was
// admitted (egress for the source's side, ingress for the destination's), and
// reset when they no longer allow it. Off by default: NetworkPolicy and Istio
// both leave established connections alone.
import type { PolicyTables } from '../tables/index.ts';
import type { Admission, Connection } from '../telemetry/index.ts';
import { checkEgress, checkIngress, denial } from './authorize.ts';

/** Why the tables no longer allow the connection, or null when they still do. */
export function noLongerAllowed(t: PolicyTables, c: Connection, a: Admission): string | null {
  const v =
    c.direction === 'outbound'
      ? checkEgress(t, a.workload, a.peerIp, a.port)
      : checkIngress(
          t,
          a.workload,
          { ip: a.peerIp, ...(a.peerIdentity ? { identity: a.peerIdentity } : {}) },
          a.port,
          a.l7 ? 'per-request' : undefined,
        );
  return v.allow ? null : `revoked by a policy change: ${denial(v)}`;
}
