// Which endpoint of a Service port takes a request (L7) or a connection (L4), by the
// port's policy: EWMA (the default: power of two choices, cost = latency estimate ×
// (outstanding + 1), Linkerd's), LEAST_REQUEST (two choices on outstanding), ROUND_ROBIN,
// RANDOM. Ejected endpoints are skipped; if every one is ejected, all are used (Envoy's
// panic mode: an ejection never takes the whole pool down). No allocation per pick.
import type { Endpoint } from '../state/index.ts';
import { decayed, POOL_LIMITS, type PortPool } from './endpoint-pools.ts';

/** Random draws before falling back to a scan for an endpoint that is not ejected. */
const DRAWS = 4;

/** The near endpoints of one pick, reused (a pick returns an element, never the array). */
const scratch: Endpoint[] = [];

/**
 * One of `endpoints` by the pool's policy; with `near`, among the near ones that are in
 * the pool when there are any (trafficDistribution: PreferClose), else among all.
 */
export function pick(
  pool: PortPool,
  all: readonly Endpoint[],
  now: number,
  random: () => number,
  near?: (ep: Endpoint) => boolean,
): Endpoint | undefined {
  let endpoints = all;
  if (near && all.length > 1) {
    scratch.length = 0;
    for (let i = 0; i < all.length; i++)
      if (near(all[i]!) && !pool.ejected(all[i]!, now)) scratch.push(all[i]!);
    if (scratch.length > 0) endpoints = scratch;
  }
  const n = endpoints.length;
  if (n === 0) return undefined;
  pool.lastUsed = now;
  pool.size = all.length;
  if (n === 1) return endpoints[0];
  if (pool.endpoints.size > all.length) pool.prune(all);
  switch (pool.lb) {
    case 'ROUND_ROBIN':
      return roundRobin(pool, endpoints, now);
    case 'RANDOM':
      return endpoints[draw(pool, endpoints, now, random, -1)];
    default: {
      const a = draw(pool, endpoints, now, random, -1);
      const b = draw(pool, endpoints, now, random, a);
      if (a === b) return endpoints[a];
      return cost(pool, endpoints[b]!, now) < cost(pool, endpoints[a]!, now)
        ? endpoints[b]
        : endpoints[a];
    }
  }
}

function roundRobin(pool: PortPool, endpoints: readonly Endpoint[], now: number): Endpoint {
  const n = endpoints.length;
  const start = pool.next % n;
  for (let k = 0; k < n; k++) {
    const i = (start + k) % n;
    if (!pool.ejected(endpoints[i]!, now)) {
      pool.next = i + 1;
      return endpoints[i]!;
    }
  }
  pool.next = start + 1;
  return endpoints[start]!;
}

/** An index of an endpoint in the pool, other than `not` where one is left; ejected ones only when all are. */
function draw(
  pool: PortPool,
  endpoints: readonly Endpoint[],
  now: number,
  random: () => number,
  not: number,
): number {
  const n = endpoints.length;
  for (let k = 0; k < DRAWS; k++) {
    const i = Math.floor(random() * n) % n;
    if (i !== not && !pool.ejected(endpoints[i]!, now)) return i;
  }
  const start = Math.floor(random() * n) % n;
  for (let k = 0; k < n; k++) {
    const i = (start + k) % n;
    if (i !== not && !pool.ejected(endpoints[i]!, now)) return i;
  }
  // Nothing else in: `not` itself if it is in, else any (panic).
  return not >= 0 && !pool.ejected(endpoints[not]!, now)
    ? not
    : start === not
      ? (start + 1) % n
      : start;
}

/** What sending one more to `ep` costs, by the pool's policy. */
function cost(pool: PortPool, ep: Endpoint, now: number): number {
  const s = pool.endpoints.get(ep.ip);
  const outstanding = s?.outstanding ?? 0;
  if (pool.lb === 'LEAST_REQUEST') return outstanding;
  const rtt = s && s.at > 0 ? decayed(s, now) : pool.rttMs || POOL_LIMITS.defaultRttMs;
  return rtt * (outstanding + 1);
}
