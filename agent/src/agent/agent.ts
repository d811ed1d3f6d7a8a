// One node's agent: a source (manifest directory or Kubernetes) feeds snapshots;
// each is compiled once (compileNode: every table of this node), then the apply
// phase (apply.ts) writes what changed to the datapath and the proxy. Changes are
// applied one at a time, in order. This file is the lifecycle: start, the queue
// of snapshots, stop; the other jobs live beside it (options.ts, source.ts,
// certificates.ts, kernel-events.ts, status.ts, live-trace.ts).

import {
  compileNode,
  emptyPolicy,
  type NodeWorkload,
  type PolicyTables,
} from '../compile/index.ts';
import { NodeDatapath, native } from '../datapath/index.ts';
import type { IdentityManager } from '../identity/index.ts';
import type { Trace } from '../policy/index.ts';
import { NodeProxy, useKernelRelay } from '../proxy/index.ts';
import type { SnapshotSource } from '../sources/index.ts';
import type { Snapshot } from '../state/index.ts';
import { emptyRoutes, type RouteTables } from '../tables/index.ts';
import {
  AccessLogWriter,
  AgentMetrics,
  type AgentStatus,
  accessEntryJson,
  accessLogDestination,
  FlowLog,
  observers,
  type RequestTracing,
  requestSinks,
  startTracing,
} from '../telemetry/index.ts';
import { ApplyPhase } from './apply.ts';
import { startIdentities, wantedIdentities } from './certificates.ts';
import { IdAllocator } from './ids.ts';
import { KernelEvents } from './kernel-events.ts';
import { liveTrace, type TraceQuery } from './live-trace.ts';
import { type MemoryReturn, startMemoryReturn } from './memory.ts';
import { type AgentOptions, nodeSettings, trustDomainOf } from './options.ts';
import { openSource, startSource } from './source.ts';
import { agentStatus } from './status.ts';

export type { AgentOptions } from './options.ts';

export class Agent {
  readonly opts: AgentOptions;
  private source!: SnapshotSource;
  private started = false;
  private datapath!: NodeDatapath;
  private proxy!: NodeProxy;
  private identities: IdentityManager | null = null;
  private events: KernelEvents | null = null;
  private policyTables: PolicyTables = emptyPolicy;
  private routeTables: RouteTables = emptyRoutes;
  readonly flows: FlowLog;
  private installer!: ApplyPhase;
  /** The node's metrics, served on :15020/metrics (null when off). */
  readonly metrics: AgentMetrics | null;
  private readonly accessLines: AccessLogWriter | null;
  private tracing: RequestTracing | null = null;
  private workloads: NodeWorkload[] = [];
  private snapshotVersion = 0;
  private snapshot: Snapshot | null = null;
  private queue: Promise<void> = Promise.resolve();
  private memoryReturn: MemoryReturn | null = null;
  private readonly log: (line: string) => void;

  constructor(opts: AgentOptions) {
    this.opts = opts;
    this.flows = new FlowLog(opts.node, () => this.policyTables);
    this.metrics =
      opts.metrics === false
        ? null
        : new AgentMetrics({ node: opts.node, tables: () => this.policyTables });
    this.metrics?.bind(this);
    this.accessLines = opts.accessLog
      ? new AccessLogWriter(accessLogDestination(opts.accessLog), {
          queryStrings: opts.accessLogQueryStrings ?? false,
        })
      : null;
    this.log = opts.log ?? ((l) => process.stderr.write(`${l}\n`));
  }

  async start(): Promise<void> {
    this.datapath = new NodeDatapath({
      cgroupRoot: this.opts.cgroupRoot,
      pinRoot: this.opts.pinRoot,
      splice: this.opts.splice,
    });
    this.datapath.attachRoot();
    const ids = new IdAllocator(this.datapath.existingIds());
    // Verdicts the kernel made (connect-time and sk_lookup refusals), kept for /events.
    this.events = new KernelEvents(
      this.datapath.events(),
      this.flows,
      (id) => this.installer?.keyOf(id),
      this.log,
      (e) => this.metrics?.kernelEvent(e),
    );
    if (this.opts.issuer) {
      // A new certificate or bundle reaches the servers; clients pick it up per new session.
      this.identities = startIdentities(this.opts.issuer, this.log, () => {
        this.queue = this.queue
          .then(() =>
            this.proxy.refreshIdentities((key, e) =>
              this.installer.workloadErrors.set(key, `mTLS listener: ${e.message}`),
            ),
          )
          .catch((e: Error) => this.log(`identity refresh: ${e.message}`));
      });
    }
    // The sk_msg splice and the kernel relay would both take the loopback hop's bytes.
    useKernelRelay(!this.opts.splice);
    // Traces only when OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT asks for them.
    this.tracing = await startTracing(this.opts.node);
    this.proxy = new NodeProxy({
      lookup: (id, port, v6) => this.datapath.takeOrig(id, port, v6),
      trustDomain: trustDomainOf(this.opts),
      identities: this.identities ?? undefined,
      keepalive: this.opts.hboneKeepalive,
      hboneLimits: this.opts.hboneLimits,
      httpLimits: this.opts.httpLimits,
      log: this.log,
      inherit: this.opts.inherit,
      revokeOnPolicyChange: this.opts.revokeOnPolicyChange ?? false,
      tracing: this.tracing,
      observer: observers(this.metrics?.tcp, this.accessLines, this.flows),
      requests: requestSinks(this.metrics?.requests, this.accessLines),
    });
    this.proxy.log.onEntry = (e) => this.flows.fromProxy(e);
    this.proxy.log.queryStrings = this.opts.accessLogQueryStrings ?? false;
    this.installer = new ApplyPhase(this.datapath, this.proxy, ids, this.log);
    this.source = openSource(this.opts, this.log);
    const first = await startSource(this.source, this.log, (s) => this.enqueue(s));
    await this.enqueue(first);
    this.started = true;
    // Memory back to the kernel when quiet (memory.ts); WEFT_MEMORY_RETURN=0 keeps it, for measuring.
    if (process.env.WEFT_MEMORY_RETURN !== '0')
      this.memoryReturn = startMemoryReturn(
        () => native().mallocTrim(),
        () => native().mallocFreeBytes(),
      );
  }

  /** Started, and the source has its initial state (every initial list, on Kubernetes). */
  ready(): boolean {
    return this.started && (this.source.ready ?? true);
  }

  private enqueue(s: Snapshot): Promise<void> {
    if (this.paused) {
      this.held = s;
      return this.queue;
    }
    this.queue = this.queue
      .then(async () => {
        const t0 = performance.now();
        await this.apply(s);
        const ms = performance.now() - t0;
        this.metrics?.reconciled(ms / 1000);
        this.opts.debug?.(`snapshot ${s.version} applied in ${ms.toFixed(1)} ms`);
      })
      .catch((e: Error) => this.log(`apply failed: ${e.message}`));
    return this.queue;
  }

  private async apply(snap: Snapshot): Promise<void> {
    // Compile once (pure: every table of this node), then apply what changed.
    const tables = compileNode(snap, nodeSettings(this.opts));
    this.policyTables = tables.policy;
    this.routeTables = tables.routes;
    this.installer.setTables(tables);
    // Certificates for the identities the enrolled pods run as; the others are dropped.
    this.identities?.want(wantedIdentities(tables.workloads, trustDomainOf(this.opts)));
    await this.installer.apply(tables, this.snapshotVersion === 0);
    this.workloads = tables.workloads;
    this.snapshotVersion = snap.version;
    this.snapshot = snap;
  }

  status(): AgentStatus {
    return agentStatus({
      node: this.opts.node,
      snapshotVersion: this.snapshotVersion,
      workloads: this.workloads,
      workloadErrors: this.installer.workloadErrors,
      proxy: this.proxy,
      identities: this.identities,
      source: this.source,
      datapath: this.datapath,
      snapshot: this.snapshot,
      lifecycle: this.opts.lifecycle,
      memory: this.memoryReturn?.counts ?? null,
    });
  }

  // --- handover (agent/handover.ts drives these)
  private paused = false;
  private held: Snapshot | null = null;

  /** Snapshots wait (the last one is kept) until resume(); resolves once nothing applies. */
  async pause(): Promise<void> {
    this.paused = true;
    await this.queue;
  }

  resume(): void {
    this.paused = false;
    const s = this.held;
    this.held = null;
    if (s) void this.enqueue(s);
  }

  get nodeProxy(): NodeProxy {
    return this.proxy;
  }

  /** Enrolled workloads not yet served in full (with mTLS: no HBONE server yet, no certificate). */
  notYetServing(): string[] {
    if (!this.identities) return [];
    return this.proxy
      .list()
      .filter((p) => p.hbone === null)
      .map((p) => p.workload.key);
  }

  /**
   * Handed over: the control plane stops here (the new agent runs it); connections drain.
   * Certificates stay: a connection accepted just before may still open its HBONE stream.
   */
  quiesce(): void {
    this.source?.close();
    this.events?.close();
    this.events = null;
  }
  // --- end handover

  accessLog() {
    return this.proxy.log.entries().map(accessEntryJson);
  }

  /**
   * A trace with this agent's view of the cluster, plus what the tables installed
   * in its kernel say for the pods on this node (`weft policy trace --live`).
   */
  trace(q: TraceQuery): Trace {
    return liveTrace(
      q,
      this.snapshot,
      this.opts,
      this.installer.applied,
      this.datapath,
      this.routeTables,
      this.proxy.l7.pools.snapshot(),
    );
  }

  metricsText(): Promise<string | null> {
    return this.metrics ? this.metrics.render() : Promise.resolve(null);
  }

  flowsSince(seq: number) {
    return this.flows.since(seq);
  }

  datapathEvents(): Record<string, unknown>[] {
    return this.events?.recent() ?? [];
  }

  /** Stops listening and lets go of the datapath; pins stay, so enrolled pods fail closed until the next start. */
  async stop(): Promise<void> {
    this.memoryReturn?.close();
    this.identities?.close();
    this.source?.close();
    this.events?.close();
    await this.queue;
    this.proxy?.close();
    this.datapath?.close();
    this.accessLines?.close();
    await this.tracing?.shutdown().catch(() => {});
  }
}
