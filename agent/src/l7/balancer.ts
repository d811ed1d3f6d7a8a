// Which endpoint of a backend takes a request. Round robin for now; the interface
// lets least-request or latency-aware pickers (P2C, EWMA) replace it.
import type { Endpoint } from '../state/index.ts';

export interface Balancer {
  /**
   * One of `endpoints` for the next request to `key` (a backend Service port), or undefined
   * when empty. `exclude` (a retry's failed endpoint) is avoided when another remains.
   */
  pick(key: string, endpoints: readonly Endpoint[], exclude?: Endpoint): Endpoint | undefined;
}

/** Positions survive table swaps; at most MAX_KEYS backends are remembered (then they restart at 0). */
const MAX_KEYS = 65_536;

export class RoundRobin implements Balancer {
  private readonly next = new Map<string, number>();

  pick(key: string, endpoints: readonly Endpoint[], exclude?: Endpoint): Endpoint | undefined {
    const n = endpoints.length;
    if (n === 0) return undefined;
    const i = this.next.get(key) ?? 0;
    if (this.next.size >= MAX_KEYS && i === 0) this.next.clear();
    this.next.set(key, i + 1 >= n ? 0 : i + 1);
    const ep = endpoints[i % n]!;
    if (exclude === undefined || n === 1 || !sameEndpoint(ep, exclude)) return ep;
    return endpoints[(i + 1) % n];
  }
}

/** The same address and port (tables swap objects, so identity is not enough). */
export function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a === b || (a.ip === b.ip && a.port === b.port);
}
