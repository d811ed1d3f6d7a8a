// What the proxy needs to route, built by the compilers and swapped whole:
// a connection reads one table from start to end, never half of an update.
import { allowedTarget } from '../policy/service-endpoints.ts';
import type { MeshPeer } from '../tables/peers.ts';
import { emptyPolicy, type PolicyTables } from '../tables/policy.ts';
import { emptyRoutes, type RouteTables } from '../tables/routes.ts';
import type { ServiceTarget } from '../tables/services.ts';

export interface ProxyTables {
  readonly version: number;
  /** `ip:port` of a ClusterIP port → endpoints. */
  readonly services: ReadonlyMap<string, ServiceTarget>;
  /** Pod IP → mesh pod (speaks HBONE), cluster-wide. */
  readonly peers: ReadonlyMap<string, MeshPeer>;
  /** NetworkPolicy and AuthorizationPolicy, checked once per connection. */
  readonly policy: PolicyTables;
  /** VIP ports read as HTTP (with or without routes): their connections go to the L7 engine. */
  readonly routes: RouteTables;
}

export const emptyTables: ProxyTables = {
  version: 0,
  services: new Map(),
  peers: new Map(),
  policy: emptyPolicy,
  routes: emptyRoutes,
};

/** Round robin over a service's endpoints; positions survive table swaps. */
export class Balancer {
  private readonly next = new Map<string, number>();

  pick(key: string, target: ServiceTarget): { ip: string; port: number } | undefined {
    const n = target.endpoints.length;
    if (n === 0) return undefined;
    const i = this.next.get(key) ?? 0;
    this.next.set(key, (i + 1) % n);
    return target.endpoints[i % n];
  }
}

// Per table: each source workload's view of each VIP port it used, judged once
// (at most enrolled workloads × VIP ports entries; dropped with the table).
const allowedOf = new WeakMap<ProxyTables, Map<string, Map<string, ServiceTarget>>>();

/** The endpoints of a VIP port that the source's egress NetworkPolicy allows. */
export function allowedEndpoints(
  t: ProxyTables,
  srcKey: string,
  vip: string,
  target: ServiceTarget,
): ServiceTarget {
  let bySrc = allowedOf.get(t);
  if (!bySrc) {
    bySrc = new Map();
    allowedOf.set(t, bySrc);
  }
  let byVip = bySrc.get(srcKey);
  if (!byVip) {
    byVip = new Map();
    bySrc.set(srcKey, byVip);
  }
  let have = byVip.get(vip);
  if (!have) {
    have = allowedTarget(t.policy, srcKey, target);
    byVip.set(vip, have);
  }
  return have;
}
