// One connection's endpoint for the outbound L4 path (proxy/balance-l4.ts), from the
// same Pools as requests: picked by the port's policy, counted outstanding until it
// ends, and its outcome (connect failure or not) counted for outlier detection.
import type { Endpoint } from '../state/index.ts';
import type { CompiledTrafficPolicy } from '../tables/index.ts';
import { pick } from './balancer.ts';
import type { Pools } from './endpoint-pools.ts';
import { finished, Outcome, started } from './outlier.ts';

export function pickL4(
  pools: Pools,
  key: string,
  policy: CompiledTrafficPolicy | undefined,
  endpoints: readonly Endpoint[],
  near: ((ep: Endpoint) => boolean) | undefined,
  onSettle: (f: (how: 'ok' | 'failed' | 'none') => void) => void,
): Endpoint | undefined {
  const pool = pools.get(key, policy);
  const ep = pick(pool, endpoints, pool.now(), pools.random, near);
  if (!ep) return undefined;
  const s = started(pool, ep);
  onSettle((how) =>
    finished(
      pool,
      s,
      how === 'ok' ? Outcome.Success : how === 'failed' ? Outcome.GatewayError : Outcome.None,
      -1,
      pool.now(),
    ),
  );
  return ep;
}
