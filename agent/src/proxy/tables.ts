// What the proxy needs to route, built by the compilers and swapped whole:
// a connection reads one table from start to end, never half of an update.
import { allowedTarget } from '../policy/index.ts';
import {
  emptyDecisions,
  emptyPolicy,
  emptyRoutes,
  type MeshPeer,
  type NodeDecisions,
  type PolicyTables,
  type RouteTables,
  type ServiceTarget,
} from '../tables/index.ts';

export interface ProxyTables {
  readonly version: number;
  /** `ip:port` of a ClusterIP port → endpoints. */
  readonly services: ReadonlyMap<string, ServiceTarget>;
  /** Pod IP → mesh pod (speaks HBONE), cluster-wide. */
  readonly peers: ReadonlyMap<string, MeshPeer>;
  /** NetworkPolicy and AuthorizationPolicy, as the evaluators read them (to explain a denial). */
  readonly policy: PolicyTables;
  /** Each enrolled workload's decisions, looked up once per connection. */
  readonly decisions: NodeDecisions;
  /** VIP ports read as HTTP (with or without routes): their connections go to the L7 engine. */
  readonly routes: RouteTables;
}

export const emptyTables: ProxyTables = {
  version: 0,
  services: new Map(),
  peers: new Map(),
  policy: emptyPolicy,
  decisions: emptyDecisions,
  routes: emptyRoutes,
};

/**
 * The endpoints of a VIP port that the source's egress NetworkPolicy allows: a lookup in the
 * source's compiled table (compile/decisions.ts), which lists only the VIP ports where that
 * is fewer than all. A source without a table (its pod is not in the snapshot) is judged by
 * the evaluator, which then lets all through.
 */
export function allowedEndpoints(
  t: ProxyTables,
  srcKey: string,
  vip: string,
  target: ServiceTarget,
): ServiceTarget {
  const d = t.decisions.egress.get(srcKey);
  if (!d) return allowedTarget(t.policy, srcKey, target);
  return d.vips.get(vip) ?? target;
}
