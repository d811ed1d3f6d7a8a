// The outbound L4 path's endpoint choice for a TCP Service port: the same per-port
// balancer and outlier state as the L7 engine (l7/ Pools), per connection. A
// connection is weighed by the connections outstanding (there is no request latency
// to weigh at L4); one refused at connect, or reset before a byte came back, counts
// against its endpoint for outlier detection, as Envoy counts TCP connect failures.
import { type Pools, pickL4 } from '../l7/index.ts';
import type { Endpoint, ServiceTarget } from '../state/index.ts';
import type { Connection } from '../telemetry/index.ts';
import type { ProxyTables } from './tables.ts';

/** An endpoint of `allowed` for one connection to the VIP port, its outcome reported through `conn`. */
export function pickEndpoint(
  pools: Pools,
  tables: ProxyTables,
  target: ServiceTarget,
  allowed: ServiceTarget,
  port: number,
  conn: Connection,
  near: (ep: Endpoint) => boolean,
): Endpoint | undefined {
  const key = `${target.service}:${port}`;
  const policy = tables.routes.trafficPolicies?.get(key);
  const close = target.preferClose ? near : undefined;
  return pickL4(pools, key, policy, allowed.endpoints, close, (f) => {
    conn.settle = f;
  });
}
