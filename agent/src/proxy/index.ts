// The node proxy: listeners per enrolled workload, outbound and inbound
// pipelines, HBONE (mTLS) between nodes when the node has identities, tables
// swapped whole by the agent. The per-connection path reads tables, never
// awaits the control plane, never logs.
import type { Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import { type HeldSvid as Svid, tlsContext } from '../identity/index.ts';
import { peerId, spiffeId } from '../identity/spiffe/index.ts';
import { InboundL7, type InboundLimits, L7Engine } from '../l7/index.ts';
import { constants, type NodeWorkload } from '../tables/index.ts';
import {
  AccessLog,
  type ConnectionObserver,
  ConnectionRegistry,
  type ConnectionSinks,
  type DirectionStats,
  ProxyStats,
  type RequestSink,
  type RequestTracing,
} from '../telemetry/index.ts';
import { contain, type ErrorReport, throttledReport } from './contain.ts';
import { type DrainCounts, drainCounts, stopAccepting } from './drain.ts';
import { HbonePool } from './hbone/client.ts';
import { DEFAULT_KEEPALIVE, type Keepalive } from './hbone/keepalive.ts';
import { HboneGuard, type HboneLimits, spoofReport } from './hbone/limits.ts';
import { HboneServer } from './hbone/server.ts';
import { handleInbound, type InboundContext } from './inbound.ts';
import {
  type InheritListener,
  ListenGate,
  type ListeningFd,
  WorkloadListeners,
} from './listeners.ts';
import { handleOutbound, type OrigLookup, type OutboundContext } from './outbound.ts';
import { tuneStreams } from './pipe.ts';
import { noLongerAllowed } from './revoke.ts';
import { SocketPool } from './socket-pool.ts';
import { emptyTables, type ProxyTables } from './tables.ts';

export type { InboundLimits } from '../l7/index.ts';
export type { AccessEntry } from '../telemetry/index.ts';
export { ProxyStats } from '../telemetry/index.ts';
export type { DrainCounts } from './drain.ts';
export { type Keepalive, MIN_KEEPALIVE_MS } from './hbone/keepalive.ts';
export { DEFAULT_HBONE_LIMITS, type HboneLimits } from './hbone/limits.ts';
export type { InheritListener, ListeningFd } from './listeners.ts';
export type { OrigLookup } from './outbound.ts';
export { useKernelRelay } from './relay.ts';
export type { ProxyTables } from './tables.ts';

/** Where the proxy gets certificates: the agent's identity manager. */
export interface IdentitySource {
  get(id: string): Svid | undefined;
  trustBundle(): string[];
}

export interface NodeProxyOptions {
  lookup: OrigLookup;
  trustDomain: string;
  /** Without identities the proxy carries plaintext only. */
  identities?: IdentitySource;
  /** HBONE PINGs that find a dead peer (default DEFAULT_KEEPALIVE). */
  keepalive?: Keepalive;
  /** Where a connection handler's exception is reported (default: stderr, throttled). */
  log?: (line: string) => void;
  /** Bounds on HBONE handshakes and streams (default DEFAULT_HBONE_LIMITS). */
  hboneLimits?: HboneLimits;
  /** Listening sockets handed over by the previous agent (handover/). */
  inherit?: InheritListener;
  /** TCP metrics, told of every connection's open and close. */
  observer?: ConnectionObserver;
  /** Where finished HTTP requests are reported. */
  requests?: RequestSink;
  /** Reset carried connections a policy change no longer allows (default off). */
  revokeOnPolicyChange?: boolean;
  /** A span per HTTP request (telemetry/tracing.ts); absent: off. */
  tracing?: RequestTracing | null;
  /** The destination side's bounds per client connection (default DEFAULT_INBOUND_LIMITS). */
  httpLimits?: Partial<InboundLimits>;
}

export interface ProxiedWorkload {
  readonly workload: NodeWorkload;
  readonly workloadId: number;
  readonly identity: string;
  readonly listeners: WorkloadListeners;
  hbone: HboneServer | null;
  readonly inbound: InboundContext;
}

export class NodeProxy {
  readonly stats = new ProxyStats();
  readonly log = new AccessLog();
  /** Every carried connection, by the workload whose policy admitted it. */
  readonly connections = new ConnectionRegistry();
  private readonly sinks: { outbound: ConnectionSinks; inbound: ConnectionSinks };
  private tables: ProxyTables = emptyTables;
  private readonly pool = new SocketPool();
  private readonly workloads = new Map<string, ProxiedWorkload>();
  private readonly opts: NodeProxyOptions;
  private readonly contexts = new Map<
    string,
    { serial: string; roots: readonly string[]; ctx: SecureContext }
  >();
  private readonly hbone: HbonePool | null;
  private readonly report: ErrorReport;
  private readonly keepalive: Keepalive;
  /** The HBONE servers' bounds, shared by all of them, and what they turned away. */
  readonly hboneGuard: HboneGuard;
  private readonly spoofed: (detail: string) => void;
  /** Per-request routing and balancing for VIP ports read as HTTP. */
  readonly l7: L7Engine;
  /** The destination side: connections to enrolled pods' ports read as HTTP, request by request. */
  readonly inboundL7: InboundL7;
  /** Handed-over listeners accept once it opens (acceptInherited). */
  private readonly gate = new ListenGate();

  constructor(opts: NodeProxyOptions) {
    this.opts = opts;
    tuneStreams();
    this.keepalive = opts.keepalive ?? DEFAULT_KEEPALIVE;
    const log = opts.log ?? ((l) => process.stderr.write(`${l}\n`));
    this.report = throttledReport(log);
    this.hboneGuard = new HboneGuard(opts.hboneLimits);
    this.spoofed = spoofReport(this.hboneGuard.counters, log);
    const sinks = (stats: DirectionStats): ConnectionSinks => ({
      stats,
      log: this.log,
      observer: opts.observer ?? null,
      registry: this.connections,
      requests: opts.requests ?? null,
      tracing: opts.tracing ?? null,
    });
    this.sinks = { outbound: sinks(this.stats.outbound), inbound: sinks(this.stats.inbound) };
    this.l7 = new L7Engine({
      ...(opts.requests ? { sink: opts.requests } : {}),
      tracing: opts.tracing ?? null,
    });
    this.inboundL7 = new InboundL7(opts.httpLimits);
    this.hbone = opts.identities
      ? new HbonePool(this.pool, (id) => this.clientContext(id), this.keepalive)
      : null;
  }

  /** A listener's handler, run inside contain(): a throw resets that socket only. */
  private contained(stats: DirectionStats, handle: (s: Socket) => void): (s: Socket) => void {
    return (s) =>
      contain(
        stats,
        this.report,
        () => s.resetAndDestroy(),
        () => handle(s),
      );
  }

  /** New tables for new connections; with revocation on, carried ones are judged again. */
  setTables(t: ProxyTables): void {
    const before = this.tables.policy;
    this.tables = t;
    if (this.opts.revokeOnPolicyChange && t.policy !== before && this.connections.size > 0)
      this.connections.sweep((c, a) => noLongerAllowed(t, c, a));
  }

  private clientContext(id: string): SecureContext | undefined {
    const svid = this.opts.identities?.get(id);
    if (!svid) return undefined;
    const roots = this.opts.identities!.trustBundle();
    const have = this.contexts.get(id);
    // Asked on every HBONE stream opened: the manager replaces the bundle's array when it
    // changes (and only then), so comparing the array is comparing the bundle.
    if (have && have.serial === svid.serial && have.roots === roots) return have.ctx;
    const ctx = tlsContext(svid, roots);
    this.contexts.set(id, { serial: svid.serial, roots, ctx });
    return ctx;
  }

  /** Opens the workload's listeners in its netns (the inbound fd goes to sk_lookup). */
  async add(w: NodeWorkload, workloadId: number): Promise<ProxiedWorkload> {
    const existing = this.workloads.get(w.key);
    if (existing) return existing;
    const netnsPath = w.netnsPath!;
    const identity = spiffeId(this.opts.trustDomain, w.namespace, w.serviceAccount);
    const inbound: InboundContext = {
      key: w.key,
      netnsPath,
      sinks: this.sinks.inbound,
      pool: this.pool,
      inboundL7: this.inboundL7,
      identity: this.opts.identities ? identity : null,
      policy: () => this.tables.policy,
      decisions: () => this.tables.decisions.ingress.get(w.key),
    };
    const out: OutboundContext = {
      workloadId,
      workloadKey: w.key,
      netnsPath,
      podIP: w.podIP!,
      podIPs: w.podIPs,
      identity: this.opts.identities ? identity : null,
      ...(this.opts.identities ? { peer: peerId(identity) } : {}),
      sinks: this.sinks.outbound,
      lookup: this.opts.lookup,
      pools: this.l7.pools,
      pool: this.pool,
      hbone: this.hbone,
      l7: this.l7,
      local: (key) => this.workloads.get(key)?.inbound,
      tables: () => this.tables,
    };
    const listeners = await WorkloadListeners.open(
      netnsPath,
      this.contained(out.sinks.stats, (s) => handleOutbound(out, s)),
      this.contained(inbound.sinks.stats, (s) => handleInbound(inbound, s)),
      this.opts.inherit,
      this.gate,
    );
    const p: ProxiedWorkload = {
      workload: w,
      workloadId,
      identity,
      listeners,
      hbone: null,
      inbound,
    };
    this.workloads.set(w.key, p);
    try {
      await this.ensureHbone(p);
    } catch (e) {
      this.remove(w.key);
      throw e;
    }
    return p;
  }

  /** Opens (or refreshes) the HBONE servers of the workloads an identity serves. */
  async ensureHbone(p: ProxiedWorkload): Promise<void> {
    const ids = this.opts.identities;
    const svid = ids?.get(p.identity);
    if (!ids || !svid) return;
    const material = {
      keyPem: svid.keyPem,
      certChainPem: svid.certChainPem,
      roots: ids.trustBundle(),
    };
    if (p.hbone) {
      p.hbone.update(material);
      return;
    }
    p.hbone = await HboneServer.open(
      {
        workloadKey: p.workload.key,
        netnsPath: p.workload.netnsPath!,
        podIP: p.workload.podIP!,
        podIPs: p.workload.podIPs,
        trustDomain: this.opts.trustDomain,
        sinks: this.sinks.inbound,
        pool: this.pool,
        inboundL7: this.inboundL7,
        identity: p.identity,
        report: this.report,
        keepalive: this.keepalive,
        guard: this.hboneGuard,
        spoofed: this.spoofed,
        policy: () => this.tables.policy,
        decisions: () => this.tables.decisions.ingress.get(p.workload.key),
      },
      material,
      constants.PORT_HBONE,
      this.opts.inherit?.(p.workload.netnsPath!, 'hbone', p.workload.podIP!, constants.PORT_HBONE),
      this.gate,
    );
    p.listeners.addresses.push({
      role: 'hbone',
      address: p.workload.podIP!,
      port: constants.PORT_HBONE,
    });
  }

  /** A certificate or the trust bundle changed: every server of it picks it up. */
  async refreshIdentities(onError: (key: string, e: Error) => void): Promise<void> {
    for (const p of this.workloads.values()) {
      try {
        await this.ensureHbone(p);
      } catch (e) {
        onError(p.workload.key, e as Error);
      }
    }
  }

  /** Stops listening for the workload; its established connections carry on. */
  remove(key: string): void {
    const p = this.workloads.get(key);
    if (!p) return;
    p.listeners.close();
    p.hbone?.close();
    this.hbone?.dropNetns(p.workload.netnsPath!);
    this.l7.upstreams.dropSource(key);
    this.pool.drop(p.workload.netnsPath!);
    this.workloads.delete(key);
  }

  list(): ProxiedWorkload[] {
    return [...this.workloads.values()];
  }

  // --- handover (handover/ drives these; drain.ts holds the work)
  /** Every listening socket of every workload, HBONE's included. */
  listening(): { key: string; netnsPath: string; fds: ListeningFd[] }[] {
    return this.list().map((p) => ({
      key: p.workload.key,
      netnsPath: p.workload.netnsPath!,
      fds: [
        ...p.listeners.fds,
        ...(p.hbone
          ? [
              {
                role: 'hbone' as const,
                address: p.workload.podIP!,
                port: constants.PORT_HBONE,
                fd: p.hbone.fd,
              },
            ]
          : []),
      ],
    }));
  }

  /** Serves in full: accept from the handed-over listeners too (the old agent stops next). */
  acceptInherited(): void {
    this.gate.open();
  }

  /** Another agent accepts now: this one stops accepting; what is open drains. */
  stopAccepting(): void {
    stopAccepting(this.workloads.values(), this.hbone);
    this.l7.drain();
    this.inboundL7.drain();
  }

  /** Resets every connection still carried (a drain whose grace period ran out). */
  resetCarried(why: string): number {
    return this.connections.resetAll(why);
  }

  draining(): DrainCounts {
    return drainCounts(this.workloads.values(), {
      outbound: this.stats.outbound.active,
      inbound: this.stats.inbound.active,
      http: this.inboundL7.connections(),
    });
  }
  // --- end handover

  close(): void {
    for (const key of [...this.workloads.keys()]) this.remove(key);
    this.hbone?.close();
    this.l7.close();
    this.inboundL7.close();
    this.pool.close();
  }
}
export { adoptRelay, exportRelays } from './relay.ts';
