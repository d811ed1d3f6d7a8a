// One node's agent: a source (manifest directory or Kubernetes) feeds snapshots; the compilers turn
// each into the node's workloads and the proxy's tables; the datapath and the
// proxy apply them. Changes are applied one at a time, in order.

import { existsSync, statSync } from 'node:fs';
import type { MtlsMode } from '../compile/enrollment.ts';
import type { NodeWorkload } from '../compile/index.ts';
import { compileNode } from '../compile/node.ts';
import { emptyPolicy, type PolicyTables } from '../compile/policy.ts';
import { TRUST_DOMAIN, WEFT_NAMESPACE } from '../config/defaults.ts';
import type { EventStream } from '../datapath/events.ts';
import { type EnrolledEntry, NodeDatapath } from '../datapath/node.ts';
import { cgroupId } from '../datapath/system.ts';
import { CaClient } from '../identity/caclient.ts';
import { IdentityManager } from '../identity/manager.ts';
import { type Trace, type TraceStage, tracePolicy } from '../policy/trace.ts';
import type { Keepalive } from '../proxy/hbone/keepalive.ts';
import type { HboneLimits } from '../proxy/hbone/limits.ts';
import { NodeProxy } from '../proxy/index.ts';
import { useKernelRelay } from '../proxy/relay.ts';
import { ManifestSource } from '../sources/manifests/index.ts';
import type { SnapshotSource } from '../sources/source.ts';
import type { AuthzRequest } from '../state/authz-types.ts';
import type { ObjectError, Snapshot } from '../state/types.ts';
import { LAYOUT_VERSION } from '../tables/layout.ts';
import { accessEntryJson } from '../telemetry/access-log.ts';
import { AccessLogWriter, accessLogDestination } from '../telemetry/access-log-writer.ts';
import { BoundedLog } from '../telemetry/bounded-log.ts';
import { observers, requestSinks } from '../telemetry/fan-out.ts';
import { FlowLog } from '../telemetry/flows.ts';
import { AgentMetrics } from '../telemetry/metrics.ts';
import type { AgentStatus } from '../telemetry/status.ts';
import { type RequestTracing, startTracing } from '../telemetry/tracing.ts';
import { IdAllocator } from './ids.ts';

export interface AgentOptions {
  node: string;
  /** A manifest directory to read the cluster from, unless a source is given. */
  manifests?: string;
  /** Where the cluster comes from (the Kubernetes API); wins over manifests. */
  source?: SnapshotSource;
  /** mTLS mode of namespaces without a weft.dev/mtls label (default permissive). */
  mtlsDefault?: MtlsMode;
  cgroupRoot: string;
  pinRoot: string;
  splice?: boolean;
  /** The issuer (unix socket path or host:port) and this node's credential: enables mTLS. */
  issuer?: { address: string; token: string | (() => string); caPem?: string | (() => string) };
  trustDomain?: string;
  /** Where mesh-wide AuthorizationPolicies live (default weft-system). */
  rootNamespace?: string;
  /** HBONE PINGs: every intervalMs, a session unanswered for timeoutMs is dropped. */
  hboneKeepalive?: Keepalive;
  /** Bounds on HBONE handshakes and streams (default DEFAULT_HBONE_LIMITS). */
  hboneLimits?: HboneLimits;
  log?: (line: string) => void;
  /** Where routine news goes (--log-level debug): each snapshot applied. */
  debug?: (line: string) => void;
  /** Keep query strings of request paths in the access log (they may carry tokens). */
  accessLogQueryStrings?: boolean;
  /** Reset carried connections a policy change no longer allows (default off). */
  revokeOnPolicyChange?: boolean;
  /** Count the node's metrics (telemetry/metrics.ts; default on). */
  metrics?: boolean;
  /** One JSON line per connection and request: `stdout` or a file (default off). */
  accessLog?: string;
}

/** Kernel verdict events kept for /events at most (fixed-size records: the count binds first). */
export const EVENT_LOG_ENTRIES = 1000;
export const EVENT_LOG_BYTES = 1024 * 1024;

interface Applied {
  workload: NodeWorkload;
  id: number;
  cgroup: bigint;
  /** The pod's netns as the kernel knows it: a pod re-created at the same paths differs here. */
  netnsIno: number;
}

/** The cgroup id and netns inode now at a workload's paths, or undefined when gone. */
function kernelIdentity(w: NodeWorkload): { cgroup: bigint; netnsIno: number } | undefined {
  try {
    return { cgroup: cgroupId(w.cgroupDir!), netnsIno: statSync(w.netnsPath!).ino };
  } catch {
    return undefined;
  }
}

/** What the datapath steers and polices for an enrolled workload: every address of the pod. */
function enrolledEntry(w: NodeWorkload): EnrolledEntry {
  return {
    cgroupDir: w.cgroupDir!,
    podIP: w.podIP!,
    podIPs: w.podIPs,
    netnsPath: w.netnsPath!,
  };
}

export class Agent {
  readonly opts: AgentOptions;
  private source!: SnapshotSource;
  private started = false;
  private datapath!: NodeDatapath;
  private proxy!: NodeProxy;
  private identities: IdentityManager | null = null;
  private events: EventStream | null = null;
  /** Kernel verdicts for /events: fixed-size records, EVENT_LOG_ENTRIES at most. */
  private readonly recentEvents = new BoundedLog<Record<string, unknown>>(
    EVENT_LOG_ENTRIES,
    EVENT_LOG_BYTES,
  );
  private policyTables: PolicyTables = emptyPolicy;
  readonly flows: FlowLog;
  /** The node's metrics, served on :15020/metrics (null when off). */
  readonly metrics: AgentMetrics | null;
  private readonly accessLines: AccessLogWriter | null;
  private tracing: RequestTracing | null = null;
  private ids!: IdAllocator;
  private readonly applied = new Map<string, Applied>();
  private readonly workloadErrors = new Map<string, string>();
  private workloads: NodeWorkload[] = [];
  private snapshotVersion = 0;
  private snapshot: Snapshot | null = null;
  private queue: Promise<void> = Promise.resolve();
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
    this.ids = new IdAllocator(this.datapath.existingIds());
    // Verdicts the kernel made (connect-time and sk_lookup refusals), kept for /events.
    this.events = this.datapath.events();
    this.events.on('error', (e) => this.log(`datapath event dropped: ${e.message}`));
    this.events.on('event', (e) => {
      this.metrics?.kernelEvent(e);
      this.flows.fromKernel(
        e,
        (id) => [...this.applied.values()].find((a) => a.id === id)?.workload.key,
      );
      this.recentEvents.push({
        ...e,
        tsNs: e.tsNs.toString(),
        cgroupId: e.cgroupId.toString(),
        cookie: e.cookie.toString(),
      });
    });
    if (this.opts.issuer) {
      this.identities = new IdentityManager({
        client: new CaClient(this.opts.issuer),
        log: this.log,
      });
      // A new certificate or bundle reaches the servers; clients pick it up per new session.
      const refresh = () => {
        this.queue = this.queue
          .then(() =>
            this.proxy.refreshIdentities((key, e) =>
              this.workloadErrors.set(key, `mTLS listener: ${e.message}`),
            ),
          )
          .catch((e: Error) => this.log(`identity refresh: ${e.message}`));
      };
      this.identities.on('svid', refresh);
      this.identities.on('bundle', refresh);
    }
    // The sk_msg splice and the kernel relay would both take the loopback hop's bytes.
    useKernelRelay(!this.opts.splice);
    // Traces only when OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT asks for them.
    this.tracing = await startTracing(this.opts.node);
    this.proxy = new NodeProxy({
      lookup: (id, port, v6) => this.datapath.takeOrig(id, port, v6),
      trustDomain: this.trustDomain(),
      identities: this.identities ?? undefined,
      keepalive: this.opts.hboneKeepalive,
      hboneLimits: this.opts.hboneLimits,
      log: this.log,
      revokeOnPolicyChange: this.opts.revokeOnPolicyChange ?? false,
      tracing: this.tracing,
      observer: observers(this.metrics?.tcp, this.accessLines),
      requests: requestSinks(this.metrics?.requests, this.accessLines),
    });
    this.proxy.log.onEntry = (e) => this.flows.fromProxy(e);
    this.proxy.log.queryStrings = this.opts.accessLogQueryStrings ?? false;
    if (!this.opts.source && !this.opts.manifests)
      throw new Error('agent: neither a manifest directory nor a cluster source was given');
    this.source = this.opts.source ?? new ManifestSource(this.opts.manifests!);
    this.source.on('warning', (w: string) => this.log(`source: ${w}`));
    const first = await this.source.start();
    this.source.on('snapshot', (s: Snapshot) => this.enqueue(s));
    this.source.on('errors', (errs: ObjectError[]) => {
      for (const e of errs)
        this.log(`manifest rejected: ${e.file}: ${e.object}: ${e.field}: ${e.message}`);
    });
    await this.enqueue(first);
    this.started = true;
  }

  /** Started, and the source has its initial state (every initial list, on Kubernetes). */
  ready(): boolean {
    return this.started && (this.source.ready ?? true);
  }

  private trustDomain(): string {
    return this.opts.trustDomain ?? TRUST_DOMAIN;
  }

  private enqueue(s: Snapshot): Promise<void> {
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
    // Compile (pure: every table of this node), then apply what changed.
    const tables = compileNode(snap, {
      node: this.opts.node,
      trustDomain: this.trustDomain(),
      rootNamespace: this.opts.rootNamespace ?? WEFT_NAMESPACE,
      ...(this.opts.mtlsDefault ? { mtlsDefault: this.opts.mtlsDefault } : {}),
    });
    const { workloads, peers } = tables;
    this.policyTables = tables.policy;
    this.proxy.setTables({
      version: tables.version,
      services: tables.services,
      peers,
      policy: this.policyTables,
    });
    // Strict mTLS admits UDP (never tunnelled) from mesh pods' addresses only.
    this.datapath.setMeshPeers(peers.keys());
    const want = new Map(workloads.filter((w) => w.enrolled).map((w) => [w.key, w]));
    // Certificates for the identities the enrolled pods run as; the others are dropped.
    this.identities?.want(
      [...want.values()].map(
        (w) => `spiffe://${this.trustDomain()}/ns/${w.namespace}/sa/${w.serviceAccount}`,
      ),
    );

    for (const [key, a] of this.applied) {
      const w = want.get(key);
      if (
        w &&
        w.podIP === a.workload.podIP &&
        w.podIPs.join() === a.workload.podIPs.join() &&
        w.netnsPath === a.workload.netnsPath &&
        w.cgroupDir === a.workload.cgroupDir &&
        w.serviceAccount === a.workload.serviceAccount &&
        kernelIdentity(w)?.cgroup === a.cgroup &&
        kernelIdentity(w)?.netnsIno === a.netnsIno
      ) {
        // A change of mTLS mode is one map update; listeners and connections stay.
        if (w.strict !== a.workload.strict) {
          this.datapath.setStrict(a.id, enrolledEntry(w), w.strict);
          a.workload = w;
        }
        continue;
      }
      this.takeOut(key, a);
    }
    // Enrolled before this agent started but no longer wanted (or gone).
    const known = new Set([...this.applied.values()].map((a) => a.cgroup));
    const wanted = new Set(
      [...want.values()].filter((w) => existsSync(w.cgroupDir!)).map((w) => cgroupId(w.cgroupDir!)),
    );
    for (const cg of this.ids.cgroups()) {
      if (known.has(cg) || wanted.has(cg)) continue;
      const id = this.ids.id(cg)!;
      this.datapath.unenroll(id, {});
      this.ids.release(cg);
    }
    this.datapath.prunePods(new Set([...want.values()].map((w) => w.netnsPath!)));

    for (const [key, w] of want) {
      if (this.applied.has(key)) continue;
      try {
        await this.bringIn(w);
        this.workloadErrors.delete(key);
      } catch (e) {
        this.workloadErrors.set(key, (e as Error).message);
        this.log(`enroll ${key} failed: ${(e as Error).message}`);
      }
    }
    // NetworkPolicy of each enrolled workload (whose pod is in the snapshot) into the
    // kernel's maps: egress for connect(), ingress from plaintext peers for sk_lookup.
    for (const a of this.applied.values()) {
      const compiled = tables.peerTables.get(a.workload.key);
      if (!compiled) continue;
      const at = enrolledEntry(a.workload);
      try {
        if ('error' in compiled) throw new Error(compiled.error);
        const { egress, ingress } = compiled;
        this.datapath.setPeerTable('egress', a.id, at, egress);
        this.datapath.setPeerTable('ingress', a.id, at, ingress);
        // What the kernel enforces more narrowly than written (it fails closed) is said in status.
        const narrower = [
          ...(egress.unenforced ?? []).map((n) => `egress ${n}`),
          ...(ingress.unenforced ?? []).map((n) => `ingress ${n}`),
        ];
        if (narrower.length)
          this.workloadErrors.set(
            a.workload.key,
            `network policy enforced narrower than written: ${narrower.join('; ')}`,
          );
        else if (this.workloadErrors.get(a.workload.key)?.startsWith('network policy'))
          this.workloadErrors.delete(a.workload.key);
      } catch (e) {
        this.workloadErrors.set(a.workload.key, `network policy: ${(e as Error).message}`);
      }
    }
    if (this.snapshotVersion === 0) this.datapath.prunePeerTables();
    this.workloads = workloads;
    this.snapshotVersion = snap.version;
    this.snapshot = snap;
  }

  private async bringIn(w: NodeWorkload): Promise<void> {
    const cgroup = cgroupId(w.cgroupDir!);
    const id = this.ids.idFor(cgroup);
    const p = await this.proxy.add(w, id);
    try {
      this.datapath.enroll(
        id,
        enrolledEntry(w),
        p.listeners.inboundFd,
        w.strict,
        p.listeners.inboundFd6,
      );
    } catch (e) {
      this.proxy.remove(w.key);
      throw e;
    }
    this.applied.set(w.key, { workload: w, id, cgroup, netnsIno: statSync(w.netnsPath!).ino });
  }

  private takeOut(key: string, a: Applied): void {
    const w = a.workload;
    this.datapath.unenroll(a.id, {
      cgroupDir: w.cgroupDir,
      podIP: w.podIP,
      podIPs: w.podIPs,
      netnsPath: w.netnsPath,
    });
    this.proxy.remove(key);
    this.ids.release(a.cgroup);
    this.applied.delete(key);
  }

  status(): AgentStatus {
    const byKey = new Map(this.proxy.list().map((p) => [p.workload.key, p]));
    return {
      node: this.opts.node,
      layoutVersion: LAYOUT_VERSION,
      snapshotVersion: this.snapshotVersion,
      workloads: this.workloads.map((w) => {
        const p = byKey.get(w.key);
        return {
          key: w.key,
          podIP: w.podIP ?? null,
          podIPs: [...w.podIPs],
          serviceAccount: w.serviceAccount,
          enrolled: p !== undefined,
          reason: this.workloadErrors.get(w.key) ?? w.reason,
          workloadId: p?.workloadId ?? null,
          listeners: p ? p.listeners.addresses.map((l) => `${l.role} ${l.address}:${l.port}`) : [],
        };
      }),
      mtls: this.identities !== null,
      identities: this.identities?.status() ?? [],
      proxy: {
        outbound: { ...this.proxy.stats.outbound },
        inbound: { ...this.proxy.stats.inbound },
        hbone: { ...this.proxy.hboneGuard.counters },
        connections: this.proxy.connections.size,
        revoked: this.proxy.connections.revoked,
      },
      rejected: this.source.errors().map((e) => ({ ...e })),
      datapathEventsSuppressed: this.datapath?.suppressedEvents() ?? 0,
    };
  }

  /** Stops listening and lets go of the datapath; pins stay, so enrolled pods fail closed until the next start. */
  accessLog() {
    return this.proxy.log.entries().map(accessEntryJson);
  }

  /**
   * A trace with this agent's view of the cluster, plus what the tables installed
   * in its kernel say for the pods on this node (`weft policy trace --live`).
   */
  trace(q: {
    from: string;
    to: string;
    port: number;
    protocol?: 'TCP' | 'UDP';
    http?: AuthzRequest;
  }): Trace {
    const snap = this.snapshot;
    if (!snap) throw new Error('no snapshot yet');
    const t = tracePolicy({
      cluster: snap,
      trustDomain: this.trustDomain(),
      rootNamespace: this.opts.rootNamespace ?? WEFT_NAMESPACE,
      mtlsDefault: this.opts.mtlsDefault,
      ...q,
    });
    const stages: TraceStage[] = [...t.stages];
    const installed = (key: string) => this.applied.get(key);
    const src = snap.pods.get(q.from);
    const target = q.to.includes('/svc/') ? undefined : snap.pods.get(q.to);
    // A Service: its VIP's own entry, which the compiler judged by the pods behind it.
    const [svcNs, , svcName] = q.to.split('/');
    const vip = target ? undefined : snap.services.get(`${svcNs}/${svcName}`)?.clusterIP;
    const targetIP = target?.podIP ?? vip;
    const mine = (a: Applied) => enrolledEntry(a.workload);
    const srcApplied = installed(q.from);
    if (srcApplied && targetIP) {
      const r = this.datapath.lookupPeer(
        'egress',
        srcApplied.id,
        mine(srcApplied),
        targetIP,
        q.port,
        q.protocol,
      );
      stages.push({
        stage: `egress, installed on ${this.opts.node}`,
        result: r.isolated ? (r.allowed ? 'allow' : 'deny') : 'info',
        reason: r.isolated
          ? `egress_allow ${q.protocol ?? 'TCP'} entry for ${vip ? `the VIP ${targetIP}` : targetIP}: ${r.ports}`
          : `${q.from} is not isolated for egress in the kernel`,
      });
    }
    const dstApplied = target ? installed(q.to) : undefined;
    if (dstApplied && src?.podIP) {
      const r = this.datapath.lookupPeer(
        'ingress',
        dstApplied.id,
        mine(dstApplied),
        src.podIP,
        q.port,
        q.protocol,
      );
      // UDP is decided here for every peer; TCP from mesh peers arrives over HBONE instead.
      const udp = q.protocol === 'UDP';
      stages.push({
        stage: `ingress (${udp ? 'UDP' : 'plaintext'}), installed on ${this.opts.node}`,
        result: udp && r.isolated ? (r.allowed ? 'allow' : 'deny') : 'info',
        reason: r.isolated
          ? udp
            ? `ingress_allow UDP entry for ${src.podIP}: ${r.ports}`
            : `ingress_allow entry for ${src.podIP}: ${r.ports} (${r.allowed ? 'would admit' : 'would refuse'} plaintext; mesh peers arrive over HBONE)`
          : `${q.to} is not isolated for ${udp ? 'UDP' : 'plaintext'} ingress in the kernel`,
      });
    }
    return { ...t, stages, verdict: stages.some((x) => x.result === 'deny') ? 'deny' : 'allow' };
  }

  flowsSince(seq: number) {
    return this.flows.since(seq);
  }

  datapathEvents(): Record<string, unknown>[] {
    return this.recentEvents.toArray();
  }

  async stop(): Promise<void> {
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
