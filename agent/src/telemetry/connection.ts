// One record per connection the proxy accepts, closed exactly once. It is the
// only writer of a connection's counters, access log entry (and so its flow)
// and TCP metrics: the proxy's ways in and out say what happened to it
// (refused, joined, ended) and the record writes it down. While joined it sits
// in the registry under the workload whose policy admitted it, so a policy
// change can find it (proxy/revoke.ts) and reset it.
import type { AccessLog } from './access-log.ts';
import type { RequestSink } from './request-record.ts';
import type { DirectionStats } from './stats.ts';
import type { RequestTracing } from './tracing.ts';

export type Direction = 'outbound' | 'inbound';
/** How it crossed: hbone (mTLS), local (same node, in process), plaintext. */
export type Via = 'hbone' | 'local' | 'plaintext';

export interface ByteCounts {
  readonly fromClient: number;
  readonly toClient: number;
}

/**
 * Why weft refused or ended a connection itself, as the `response_flags` label
 * and access log field say it: '' when it did neither.
 */
export type ResponseFlag =
  | ''
  | 'policy'
  | 'no_healthy_upstream'
  | 'upstream_connect_failure'
  | 'tls'
  | 'no_route'
  | 'overflow'
  | 'revoked';

/** TCP metrics (istio_tcp_*): told once when a connection opens and once when it closes. */
export interface ConnectionObserver {
  opened(c: Connection): void;
  closed(c: Connection, counts: ByteCounts): void;
}

/** Where one direction's records write. */
export interface ConnectionSinks {
  readonly stats: DirectionStats;
  readonly log: AccessLog;
  readonly observer: ConnectionObserver | null;
  readonly registry: ConnectionRegistry | null;
  /** Where finished HTTP requests go (metrics, the access log); null: nowhere. */
  readonly requests?: RequestSink | null;
  /** A span per request (tracing.ts); null when tracing is off. */
  readonly tracing?: RequestTracing | null;
}

/**
 * What admitted a connection, to judge it again under new tables: the enrolled
 * workload whose policy decided (the source for outbound, the destination for
 * inbound), the peer's address and verified identity, and the port.
 */
export interface Admission {
  readonly workload: string;
  readonly peerIp: string;
  readonly peerIdentity?: string;
  readonly port: number;
  /** Served on the L7 path: AuthorizationPolicy is decided per request there. */
  readonly l7: boolean;
}

const OPEN = 0;
const JOINED = 1;
const CLOSED = 2;

const none: ByteCounts = { fromClient: 0, toClient: 0 };

export class Connection {
  /** ms since the epoch when the proxy accepted it; formatted only when read. */
  readonly start = Date.now();
  readonly direction: Direction;
  via: Via;
  /** Verified SPIFFE ID of the source, or null for a plaintext peer. */
  source: string | null;
  sourceAddress: string | null;
  /** `namespace/name` of the source pod, when known. */
  sourceWorkload: string | null = null;
  /** The original destination `host:port` (an endpoint's once a VIP was resolved). */
  destination: string;
  destinationWorkload: string | null;
  /** `namespace/name` of the Service a VIP named, when it went to one. */
  service: string | null = null;
  /** The destination's SPIFFE ID, when known (the peer's on an HBONE tunnel). */
  destinationPrincipal: string | null = null;
  /** AUDIT rules that matched the connection. */
  audit: string | undefined = undefined;
  admission: Admission | null = null;
  flag: ResponseFlag = '';
  /** Why it was refused, as the access log says it. */
  detail: string | undefined = undefined;
  /** Set by a revocation: the policy that no longer allows it. */
  revokedBy: string | null = null;
  /** Whether it writes an access log entry when it ends: the L7 path logs requests instead. */
  logEnd = true;
  /**
   * Told once how the connection went, for the balancer of the Service it went to:
   * 'failed' (refused as a connect failure, or reset before a byte came back), 'ok', or
   * 'none' (refused by policy, moved to another agent).
   */
  settle: ((how: 'ok' | 'failed' | 'none') => void) | null = null;
  /** The TCP metrics' label set, found once at open (ConnectionObserver's to fill). */
  series: unknown = null;
  private state = OPEN;
  private abortFn: (() => void) | null = null;
  readonly sinks: ConnectionSinks;

  constructor(
    sinks: ConnectionSinks,
    direction: Direction,
    via: Via,
    source: string | null,
    sourceAddress: string | null,
    destination: string,
    destinationWorkload: string | null,
  ) {
    this.sinks = sinks;
    this.direction = direction;
    this.via = via;
    this.source = source;
    this.sourceAddress = sourceAddress;
    this.destination = destination;
    this.destinationWorkload = destinationWorkload;
    sinks.stats.accepted++;
  }

  get closed(): boolean {
    return this.state === CLOSED;
  }

  /** Refused before any byte crossed: counted failed, logged `refused` with why. */
  refuse(detail: string, flag: ResponseFlag = 'policy'): void {
    if (this.state !== OPEN) return;
    this.state = CLOSED;
    this.flag = flag;
    this.detail = detail;
    this.settled(flag === 'upstream_connect_failure' || flag === 'tls' ? 'failed' : 'none');
    const s = this.sinks;
    s.stats.failed++;
    s.observer?.opened(this);
    s.observer?.closed(this, none);
    s.log.add(this.entry('refused', none, detail));
  }

  /** Carried from now on; abort resets it (the registry's way to end it). */
  joined(abort: () => void): void {
    if (this.state !== OPEN) return;
    this.state = JOINED;
    this.abortFn = abort;
    const s = this.sinks;
    s.stats.active++;
    if (this.admission) s.registry?.add(this);
    s.observer?.opened(this);
  }

  /** Both sides closed: what crossed, and whether it ended by a reset. */
  end(reset: boolean, counts: ByteCounts): void {
    if (this.state !== JOINED) return;
    this.state = CLOSED;
    this.abortFn = null;
    this.settled(reset && counts.toClient === 0 ? 'failed' : 'ok');
    const s = this.sinks;
    s.stats.active--;
    s.stats.bytesFromClient += counts.fromClient;
    s.stats.bytesToClient += counts.toClient;
    if (reset) s.stats.reset++;
    if (this.admission) s.registry?.delete(this);
    if (this.revokedBy !== null) this.flag = 'revoked';
    s.observer?.closed(this, counts);
    if (this.logEnd)
      s.log.add(
        this.entry(
          reset ? 'reset' : 'ok',
          counts,
          this.revokedBy !== null ? `closed: ${this.revokedBy}` : undefined,
        ),
      );
  }

  /**
   * Moved to the agent that took over the node (its kernel relay, with its fds): this
   * process no longer carries it, counts it, logs or reports its end.
   */
  movedAway(): void {
    if (this.state !== JOINED) return;
    this.state = CLOSED;
    this.abortFn = null;
    this.settled('none');
    const s = this.sinks;
    s.stats.active--;
    if (this.admission) s.registry?.delete(this);
  }

  private settled(how: 'ok' | 'failed' | 'none'): void {
    const f = this.settle;
    this.settle = null;
    f?.(how);
  }

  /** Resets a carried connection that policy no longer allows; end() follows. */
  revoke(why: string): void {
    if (this.state !== JOINED || this.revokedBy !== null) return;
    this.revokedBy = why;
    const abort = this.abortFn;
    try {
      abort?.();
    } catch {
      // Already gone: its close is on the way.
    }
  }

  /** An access log entry for one request of an L7 connection. */
  request(
    result: 'ok' | 'refused',
    detail: string,
    audit: string | undefined,
    counts: ByteCounts = none,
  ): void {
    const e = this.entry(result, counts, detail);
    if (audit !== undefined) e.audit = audit;
    this.sinks.log.add(e);
  }

  private entry(
    result: 'ok' | 'reset' | 'refused',
    counts: ByteCounts,
    detail: string | undefined,
  ): Parameters<AccessLog['add']>[0] {
    // Filled field by field, in the entry's order: an L7 connection makes one per request.
    const e: Parameters<AccessLog['add']>[0] = {
      time: this.start,
      direction: this.direction,
      via: this.via,
      source: this.source,
      sourceAddress: this.sourceAddress,
      destination: this.destination,
      destinationWorkload: this.destinationWorkload,
      bytesFromClient: counts.fromClient,
      bytesToClient: counts.toClient,
      result,
    };
    if (detail !== undefined) e.detail = detail;
    if (this.audit !== undefined) e.audit = this.audit;
    if (this.flag) e.responseFlags = this.flag;
    return e;
  }
}

/**
 * Every carried connection by the workload whose policy admitted it (as ztunnel's
 * connection manager). Holds open connections only: bounded by what the proxy
 * carries.
 */
export class ConnectionRegistry {
  private readonly byWorkload = new Map<string, Set<Connection>>();
  private count = 0;
  /** Connections reset because the tables no longer allowed them. */
  revoked = 0;

  get size(): number {
    return this.count;
  }

  add(c: Connection): void {
    const w = c.admission!.workload;
    let set = this.byWorkload.get(w);
    if (!set) {
      set = new Set();
      this.byWorkload.set(w, set);
    }
    set.add(c);
    this.count++;
  }

  delete(c: Connection): void {
    const w = c.admission!.workload;
    const set = this.byWorkload.get(w);
    if (!set?.delete(c)) return;
    this.count--;
    if (set.size === 0) this.byWorkload.delete(w);
  }

  /** The open connections of one workload. */
  of(workload: string): readonly Connection[] {
    return [...(this.byWorkload.get(workload) ?? [])];
  }

  /**
   * Judges every registered connection again: `denied` says why one is no longer
   * allowed (or null). Those are reset and counted; returns how many.
   */
  sweep(denied: (c: Connection, a: Admission) => string | null): number {
    const out: [Connection, string][] = [];
    for (const set of this.byWorkload.values()) {
      for (const c of set) {
        const why = denied(c, c.admission!);
        if (why !== null) out.push([c, why]);
      }
    }
    // Reset after the walk: a reset may end a connection (and change the sets) at once.
    for (const [c, why] of out) c.revoke(why);
    this.revoked += out.length;
    return out.length;
  }

  /** Resets every registered connection (not counted as revoked); returns how many. */
  resetAll(why: string): number {
    const all = [...this.byWorkload.values()].flatMap((set) => [...set]);
    for (const c of all) c.revoke(why);
    return all.length;
  }
}
