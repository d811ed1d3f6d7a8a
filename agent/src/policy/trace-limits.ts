// The trace's rate-limit stage: which HTTPLocalRateLimitPolicy holds a request to a
// pod's port, and the rate its client gets, as compile/rate-limits.ts compiles it
// (the first policy by namespace/name whose Service sends to the port). Pure.
import { spiffeId } from '../identity/spiffe/index.ts';
import {
  type ClusterObjects,
  type HttpLocalRateLimitPolicy,
  type Pod,
  selects,
  targetPort,
} from '../state/index.ts';

/** The policy limiting requests to `port` of `dst`, if any. */
export function rateLimitOf(
  cluster: ClusterObjects,
  dst: Pod,
  port: number,
): HttpLocalRateLimitPolicy | undefined {
  const policies = [...(cluster.rateLimits?.values() ?? [])].sort((a, b) =>
    `${a.namespace}/${a.name}` < `${b.namespace}/${b.name}` ? -1 : 1,
  );
  for (const p of policies) {
    const svc = cluster.services.get(`${p.namespace}/${p.targetRef.name}`);
    if (!svc || !selects(svc, dst)) continue;
    if (svc.ports.some((sp) => sp.protocol === 'TCP' && targetPort(sp, dst) === port)) return p;
  }
  return undefined;
}

/** What the policy allows a client with `identity` (undefined: plaintext, no identity). */
export function describeLimit(
  p: HttpLocalRateLimitPolicy,
  trustDomain: string,
  identity: string | undefined,
): string {
  const parts: string[] = [];
  const o = identity
    ? p.overrides.findIndex((x) =>
        x.clientRefs.some((c) => spiffeId(trustDomain, c.namespace, c.name) === identity),
      )
    : -1;
  if (o >= 0)
    parts.push(
      `${p.overrides[o]!.requestsPerSecond}/s for ${identity} (overrides[${o}], shared by the clients it names)`,
    );
  else if (p.identity !== undefined)
    parts.push(
      `${p.identity}/s for ${identity ?? 'clients without an identity (one bucket for all of them)'}`,
    );
  if (p.total !== undefined) parts.push(`${p.total}/s for all clients together`);
  if (parts.length === 0) parts.push('no limit for this client');
  return `${parts.join('; ')}; beyond it the pod's proxy answers 429 with Retry-After (gRPC: RESOURCE_EXHAUSTED)`;
}
