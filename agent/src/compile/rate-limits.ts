// HTTPLocalRateLimitPolicy → the rate limit of each pod port its Service sends to
// (tables/rate-limits.ts). The limit is local: each destination workload keeps its
// own buckets. Overrides name ServiceAccounts, compiled to the SPIFFE IDs their
// workloads prove. Where two policies reach one port, the first by namespace/name
// applies. Pure.
import { spiffeId } from '../identity/spiffe/index.ts';
import {
  type HttpLocalRateLimitPolicy,
  type Pod,
  type Snapshot,
  selects,
  targetPort,
} from '../state/index.ts';
import type { RateLimitTable } from '../tables/index.ts';

function table(p: HttpLocalRateLimitPolicy, trustDomain: string): RateLimitTable {
  const overrides = new Map<string, number>();
  p.overrides.forEach((o, i) => {
    for (const c of o.clientRefs) {
      const id = spiffeId(trustDomain, c.namespace, c.name);
      // A client named by two overrides gets the first.
      if (!overrides.has(id)) overrides.set(id, i);
    }
  });
  const overrideRates = p.overrides.map((o) => o.requestsPerSecond);
  const policy = `${p.namespace}/${p.name}`;
  return {
    policy,
    key: JSON.stringify([
      policy,
      p.total ?? null,
      p.identity ?? null,
      [...overrides],
      overrideRates,
    ]),
    total: p.total ?? null,
    identity: p.identity ?? null,
    overrides,
    overrideRates,
  };
}

/** The rate limits of a pod, by its port; empty when no policy reaches it. */
export type PodRateLimits = (pod: Pod) => ReadonlyMap<number, RateLimitTable>;

export function compileRateLimits(snap: Snapshot, trustDomain: string): PodRateLimits {
  const policies = [...(snap.rateLimits?.values() ?? [])].sort((a, b) =>
    `${a.namespace}/${a.name}` < `${b.namespace}/${b.name}` ? -1 : 1,
  );
  const targeted = policies.flatMap((p) => {
    const svc = snap.services.get(`${p.namespace}/${p.targetRef.name}`);
    return svc ? [{ svc, t: table(p, trustDomain) }] : [];
  });
  const none = new Map<number, RateLimitTable>();
  return (pod) => {
    if (targeted.length === 0) return none;
    const out = new Map<number, RateLimitTable>();
    for (const { svc, t } of targeted) {
      if (!selects(svc, pod)) continue;
      for (const sp of svc.ports) {
        if (sp.protocol !== 'TCP') continue;
        const port = targetPort(sp, pod);
        if (port !== undefined && !out.has(port)) out.set(port, t);
      }
    }
    return out;
  };
}
