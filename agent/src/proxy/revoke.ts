// A policy change and the connections already carried: with revocation on,
// each registered connection is judged again by the new tables, the way it was
// admitted (egress for the source's side, ingress for the destination's), and
// reset when they no longer allow it. Off by default: NetworkPolicy and Istio
// both leave established connections alone. A lookup in the compiled decision
// tables, as admission was; the evaluators only explain a denial.
import { peerId } from '../identity/spiffe/index.ts';
import type { Admission, Connection } from '../telemetry/index.ts';
import { checkIngress, denial, type Verdict } from './authorize.ts';
import { decideIngress, egressVerdict, portDecisions } from './decide.ts';
import type { ProxyTables } from './tables.ts';

/** Why the tables no longer allow the connection, or null when they still do. */
export function noLongerAllowed(
  t: Pick<ProxyTables, 'policy' | 'decisions'>,
  c: Connection,
  a: Admission,
): string | null {
  const v =
    c.direction === 'outbound'
      ? egressVerdict(t.decisions, t.policy, a.workload, a.peerIp, a.port)
      : ingressVerdict(t, a);
  return v.allow ? null : `revoked by a policy change: ${denial(v)}`;
}

function ingressVerdict(t: Pick<ProxyTables, 'policy' | 'decisions'>, a: Admission): Verdict {
  // Parsed once per connection judged, off the request path.
  const src = { ip: a.peerIp, ...(a.peerIdentity ? peerId(a.peerIdentity) : {}) };
  const d = t.decisions.ingress.get(a.workload);
  // A table holds each port read one way. A connection admitted the other way (the port's
  // HTTP rules came or went since) is judged by the evaluator the way it was admitted:
  // carried byte for byte, by its source alone; on the L7 path, its requests one by one.
  if (d && portDecisions(d, a.port).http === a.l7)
    return decideIngress(d, t.policy, a.workload, src, a.port);
  return checkIngress(t.policy, a.workload, src, a.port, a.l7 ? 'per-request' : undefined);
}
