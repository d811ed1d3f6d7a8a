// What the client side of this node knows about each endpoint of each Service port it
// sends to: requests (or connections) outstanding, the latency estimate, consecutive
// failures and ejection. The runtime half of a DestinationRule: the tables say what the
// policy is, this says where each endpoint stands. One Pools per node proxy, shared by
// the L7 engine and the outbound L4 path; bounded (POOL_LIMITS). docs/resilience.md.
import type { Endpoint } from '../state/index.ts';
import type { CompiledTrafficPolicy, LbPolicy } from '../tables/index.ts';

export const POOL_LIMITS = {
  /** Service ports remembered; beyond, the idle ones are forgotten. */
  ports: 4096,
  /** Endpoint entries per Service port beyond its current endpoints before the gone ones are dropped. */
  spareEndpoints: 64,
  /** An endpoint's latency estimate decays by a factor e every this many ms (Linkerd's peak EWMA). */
  decayMs: 10_000,
  /** The latency an endpoint never measured is assumed to have (ms) when none of its pool was measured either. */
  defaultRttMs: 30,
  /**
   * The latency (ms) a request the endpoint never answered (refused, reset) counts as: a
   * connection refused in microseconds must not make a dead endpoint the cheapest pick.
   */
  unansweredMs: 1_000,
  /** Longest ejection (ms), as Envoy's max_ejection_time. */
  maxEjectionMs: 300_000,
};

export class EndpointState {
  readonly ip: string;
  port: number;
  pod: string;
  /** Requests (L7) or connections (L4) sent and not yet finished. */
  outstanding = 0;
  /** Peak EWMA of latency (ms) as of `at`; `at` 0: never measured. */
  ewmaMs = 0;
  at = 0;
  consecutive5xx = 0;
  consecutiveGateway = 0;
  /** In the pool again from this time (ms, the pools' clock); 0: not ejected. */
  ejectedUntil = 0;
  /** When the last ejection ended (or ends): the times ejected count down from here. */
  lastEjectionEnd = 0;
  timesEjected = 0;
  requests = 0;
  failures = 0;

  constructor(ep: Endpoint) {
    this.ip = ep.ip;
    this.port = ep.port;
    this.pod = ep.pod;
  }
}

export class PortPool {
  readonly key: string;
  /** The clock of the Pools it belongs to (ms). */
  readonly now: () => number;
  policy: CompiledTrafficPolicy | undefined;
  lb: LbPolicy = 'EWMA';
  readonly endpoints = new Map<string, EndpointState>();
  /** Round robin's next position. */
  next = 0;
  /** Endpoints the last pick chose among (some may not have a state yet). */
  size = 0;
  /** Requests in flight to the Service port from this node (circuit breaking). */
  inFlight = 0;
  /** Requests refused at once because a connectionPool limit was reached. */
  overflows = 0;
  ejections = 0;
  lastUsed = 0;
  /**
   * The pool's typical latency (ms; an EWMA of every measurement, 0: none yet): what an
   * endpoint never measured is assumed to cost, so a new pod is neither shunned nor flooded.
   */
  rttMs = 0;

  constructor(key: string, now: () => number) {
    this.key = key;
    this.now = now;
  }

  /** The endpoint's state, made on first sight. */
  state(ep: Endpoint): EndpointState {
    let s = this.endpoints.get(ep.ip);
    if (!s) {
      s = new EndpointState(ep);
      this.endpoints.set(ep.ip, s);
    } else if (s.port !== ep.port) {
      s.port = ep.port;
      s.pod = ep.pod;
    }
    return s;
  }

  /** Whether `ep` is ejected at `now`; one whose time is up comes back here. */
  ejected(ep: Endpoint, now: number): boolean {
    const s = this.endpoints.get(ep.ip);
    if (!s || s.ejectedUntil === 0) return false;
    if (now < s.ejectedUntil) return true;
    s.ejectedUntil = 0;
    s.consecutive5xx = 0;
    s.consecutiveGateway = 0;
    return false;
  }

  /** Drops the states of endpoints no longer in `endpoints`, when too many have piled up. */
  prune(endpoints: readonly Endpoint[]): void {
    if (this.endpoints.size <= endpoints.length + POOL_LIMITS.spareEndpoints) return;
    const keep = new Set(endpoints.map((e) => e.ip));
    for (const ip of this.endpoints.keys()) if (!keep.has(ip)) this.endpoints.delete(ip);
  }
}

/** An endpoint as `weft status` shows it. */
export interface EndpointSnapshot {
  readonly ip: string;
  readonly port: number;
  readonly pod: string;
  readonly outstanding: number;
  /** Latency estimate now (ms), null when never measured. */
  readonly latencyMs: number | null;
  readonly requests: number;
  readonly failures: number;
  /** ISO time the endpoint is back in the pool, or null when it is in. */
  readonly ejectedUntil: string | null;
  readonly timesEjected: number;
}

export interface PortPoolSnapshot {
  /** `namespace/name:port` of the Service port. */
  readonly service: string;
  readonly lb: LbPolicy;
  /** The DestinationRule in force, or null for the defaults. */
  readonly from: string | null;
  readonly inFlight: number;
  readonly overflows: number;
  readonly ejections: number;
  readonly endpoints: readonly EndpointSnapshot[];
}

export class Pools {
  private readonly byKey = new Map<string, PortPool>();
  /** The pools' clock (ms); tests give their own. */
  readonly now: () => number;
  /** [0, 1); tests give their own. */
  readonly random: () => number;

  constructor(now: () => number = () => performance.now(), random: () => number = Math.random) {
    this.now = now;
    this.random = random;
  }

  /** The pool of a Service port, with its policy as the tables have it now. */
  get(key: string, policy: CompiledTrafficPolicy | undefined): PortPool {
    let p = this.byKey.get(key);
    if (!p) {
      if (this.byKey.size >= POOL_LIMITS.ports) this.trim();
      p = new PortPool(key, this.now);
      this.byKey.set(key, p);
    }
    if (p.policy !== policy) {
      p.policy = policy;
      p.lb = policy?.lb ?? 'EWMA';
    }
    return p;
  }

  find(key: string): PortPool | undefined {
    return this.byKey.get(key);
  }

  /** At the bound, the pools with nothing in flight and unused longest go. */
  private trim(): void {
    const idle = [...this.byKey.values()]
      .filter((p) => p.inFlight === 0)
      .sort((a, b) => a.lastUsed - b.lastUsed);
    for (const p of idle.slice(0, Math.max(1, idle.length >> 1))) this.byKey.delete(p.key);
  }

  /** Every pool as `weft status` shows it; wall-clock times from the pools' clock. */
  snapshot(): PortPoolSnapshot[] {
    const now = this.now();
    const wall = Date.now();
    return [...this.byKey.values()]
      .sort((a, b) => (a.key < b.key ? -1 : 1))
      .map((p) => ({
        service: p.key,
        lb: p.lb,
        from: p.policy?.from ?? null,
        inFlight: p.inFlight,
        overflows: p.overflows,
        ejections: p.ejections,
        endpoints: [...p.endpoints.values()]
          .sort((a, b) => (a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : 0))
          .map((s) => ({
            ip: s.ip,
            port: s.port,
            pod: s.pod,
            outstanding: s.outstanding,
            latencyMs: s.at === 0 ? null : Math.round(decayed(s, now) * 10) / 10,
            requests: s.requests,
            failures: s.failures,
            ejectedUntil:
              s.ejectedUntil > now ? new Date(wall + (s.ejectedUntil - now)).toISOString() : null,
            timesEjected: s.timesEjected,
          })),
      }));
  }
}

/** The latency estimate at `now`: decayed toward zero since it was last measured, so an endpoint not tried for a while is tried again. */
export function decayed(s: EndpointState, now: number): number {
  if (s.at === 0) return POOL_LIMITS.defaultRttMs;
  const dt = now - s.at;
  return dt <= 0 ? s.ewmaMs : s.ewmaMs * Math.exp(-dt / POOL_LIMITS.decayMs);
}
