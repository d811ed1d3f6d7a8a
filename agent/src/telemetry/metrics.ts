// The node's metrics, served on :15020/metrics by prom-client: Istio's standard
// TCP and request metrics (istio.ts), weft's own (policy verdicts, kernel
// denials, certificates, snapshot, reconcile time, the proxy's counters) and
// Node's runtime (event loop lag, GC, heap). One registry per agent.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { DatapathEvent } from '../datapath/index.ts';
import type { PolicyTables } from '../tables/index.ts';
import type { ByteCounts, Connection, ConnectionObserver } from './connection.ts';
import { IstioMetrics } from './istio.ts';
import type { RequestSink } from './request-record.ts';
import type { AgentStatus, DirectionCounters } from './status.ts';

/** What the status-derived families read, once the agent runs. */
export interface MetricsSource {
  status(): AgentStatus;
  ready(): boolean;
}

export interface AgentMetricsOptions {
  node: string;
  /** The snapshot's pods, to name workloads in Istio's labels. */
  tables(): PolicyTables;
  cluster?: string;
  /** Node's runtime metrics (default on). */
  runtime?: boolean;
  /** The clock for certificate expiry (tests). */
  now?: () => number;
}

/** Distinct policies counted by name at most; more are counted as `other`. */
export const MAX_POLICY_LABELS = 1000;

// `denied by <stage> (<policy>[ rule N]): reason`, as proxy/authorize.ts denial() writes it.
const DENIAL =
  /^denied by (egress NetworkPolicy|ingress NetworkPolicy|AuthorizationPolicy)(?: \((.*?)(?: rule \d+)?\))?:/;

export class AgentMetrics {
  readonly registry = new Registry();
  readonly istio: IstioMetrics;
  /** The proxy's connection observer: Istio's TCP metrics and weft's verdicts. */
  readonly tcp: ConnectionObserver;
  /** Where finished HTTP requests go. */
  readonly requests: RequestSink;
  private source: MetricsSource | null = null;
  private readonly verdicts: Counter<string>;
  private readonly kernelDenials: Counter<string>;
  private readonly reconcile: Histogram<string>;
  private readonly policies = new Set<string>();

  constructor(opts: AgentMetricsOptions) {
    const registers = [this.registry];
    const node = opts.node;
    const now = opts.now ?? Date.now;
    if (opts.runtime !== false) collectDefaultMetrics({ register: this.registry });
    this.istio = new IstioMetrics(this.registry, {
      tables: opts.tables,
      ...(opts.cluster ? { cluster: opts.cluster } : {}),
    });
    // Allowed connections are counted in plain numbers and added when scraped: prom-client
    // hashes a child's labels on every increment, once or twice per connection otherwise.
    const allowed = { outbound: 0, inbound: 0 };
    this.verdicts = new Counter({
      name: 'weft_policy_verdicts_total',
      help: 'Connections the proxy decided, by direction, verdict, deciding stage and policy (denials name them).',
      labelNames: ['direction', 'verdict', 'stage', 'policy'],
      registers,
      collect() {
        for (const direction of ['outbound', 'inbound'] as const) {
          if (allowed[direction] === 0) continue;
          this.inc({ direction, verdict: 'allow', stage: '', policy: '' }, allowed[direction]);
          allowed[direction] = 0;
        }
      },
    });
    this.kernelDenials = new Counter({
      name: 'weft_kernel_denials_total',
      help: 'Connections and datagrams the kernel refused, by hook and protocol.',
      labelNames: ['hook', 'protocol'],
      registers,
    });
    this.reconcile = new Histogram({
      name: 'weft_reconcile_duration_seconds',
      help: 'Time to compile and apply one cluster snapshot.',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10],
      registers,
    });
    const istio = this.istio;
    this.tcp = {
      opened: (c: Connection) => {
        istio.opened(c);
        if (c.flag === '') allowed[c.direction]++;
      },
      closed: (c: Connection, counts: ByteCounts) => {
        istio.closed(c, counts);
        if (c.flag === 'policy') this.denied(c);
      },
    };
    this.requests = istio;
    this.statusFamilies(node, now);
  }

  /** Starts reading the agent's status for the families derived from it. */
  bind(source: MetricsSource): void {
    this.source = source;
  }

  /** A kernel verdict event (connect(), sendmsg(), sk_lookup). */
  kernelEvent(e: DatapathEvent): void {
    if (e.verdict !== 'deny') return;
    const hook = e.kind === 'sk_lookup' ? 'sk_lookup' : `${e.kind}()`;
    this.kernelDenials.inc({ hook, protocol: e.protocol });
  }

  /** One snapshot compiled and applied, in seconds. */
  reconciled(seconds: number): void {
    this.reconcile.observe(seconds);
  }

  /** The exposition text; rejects before the agent has started. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  private denied(c: Connection): void {
    const m = DENIAL.exec(c.detail ?? '');
    let policy = m?.[2] ?? '';
    if (policy && !this.policies.has(policy)) {
      if (this.policies.size >= MAX_POLICY_LABELS) policy = 'other';
      else this.policies.add(policy);
    }
    this.verdicts.inc({
      direction: c.direction,
      verdict: 'deny',
      stage: m?.[1] ?? 'other',
      policy,
    });
  }

  private status(): AgentStatus {
    if (!this.source) throw new Error('not started');
    return this.source.status();
  }

  /** weft's families read from the status document when scraped (as before prom-client). */
  private statusFamilies(node: string, now: () => number): void {
    const registers = [this.registry];
    const self = this;
    const gauge = (
      name: string,
      help: string,
      labelNames: string[],
      fill: (g: Gauge<string>, s: AgentStatus) => void,
    ) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        collect() {
          const s = self.status();
          this.reset();
          fill(this, s);
        },
      });
    const counter = (
      name: string,
      help: string,
      labelNames: string[],
      fill: (set: (labels: Record<string, string>, v: number) => void, s: AgentStatus) => void,
    ) =>
      new Counter({
        name,
        help,
        labelNames,
        registers,
        collect() {
          const s = self.status();
          this.reset();
          fill((l, v) => this.inc(l, v), s);
        },
      });
    const perDirection =
      (pick: (d: DirectionCounters) => number) =>
      (set: (l: Record<string, string>, v: number) => void, s: AgentStatus) => {
        set({ direction: 'outbound' }, pick(s.proxy.outbound));
        set({ direction: 'inbound' }, pick(s.proxy.inbound));
      };
    gauge('weft_agent_ready', 'Whether the agent has its initial cluster state.', ['node'], (g) =>
      g.set({ node }, self.source?.ready() ? 1 : 0),
    );
    gauge('weft_snapshot_version', 'Version of the cluster snapshot applied.', ['node'], (g, s) =>
      g.set({ node }, s.snapshotVersion),
    );
    gauge(
      'weft_workloads',
      'Pods on this node, by whether they are in the mesh.',
      ['enrolled'],
      (g, s) => {
        const enrolled = s.workloads.filter((w) => w.enrolled).length;
        g.set({ enrolled: 'true' }, enrolled);
        g.set({ enrolled: 'false' }, s.workloads.length - enrolled);
      },
    );
    gauge('weft_rejected_objects', 'Cluster objects rejected as malformed.', ['node'], (g, s) =>
      g.set({ node }, s.rejected.length),
    );
    counter(
      'weft_datapath_events_suppressed_total',
      'Refused-datagram verdict events the kernel left out over its per-second limit (the verdicts stand).',
      ['node'],
      (set, s) => set({ node }, s.datapathEventsSuppressed ?? 0),
    );
    counter(
      'weft_proxy_connections_total',
      'Connections the proxy accepted.',
      ['direction'],
      perDirection((d) => d.accepted),
    );
    gauge(
      'weft_proxy_connections_active',
      'Connections open through the proxy.',
      ['direction'],
      (g, s) => {
        g.set({ direction: 'outbound' }, s.proxy.outbound.active);
        g.set({ direction: 'inbound' }, s.proxy.inbound.active);
      },
    );
    counter(
      'weft_proxy_connections_failed_total',
      'Connections that could not be forwarded.',
      ['direction'],
      perDirection((d) => d.failed),
    );
    counter(
      'weft_proxy_connections_reset_total',
      'Connections ended by a reset.',
      ['direction'],
      perDirection((d) => d.reset),
    );
    counter(
      'weft_proxy_handler_errors_total',
      'Connections whose handling failed with an internal error (a bug); each was aborted alone.',
      ['direction'],
      perDirection((d) => d.errors),
    );
    counter(
      'weft_proxy_received_bytes_total',
      'Bytes from the connecting side.',
      ['direction'],
      perDirection((d) => d.bytesFromClient),
    );
    counter(
      'weft_proxy_sent_bytes_total',
      'Bytes to the connecting side.',
      ['direction'],
      perDirection((d) => d.bytesToClient),
    );
    counter(
      'weft_l7_retries_total',
      'Requests the L7 engine tried again (retried), and retries it turned down: over the retry budget, over maxRetries outstanding, body too large to resend.',
      ['outcome'],
      (set, s) => {
        const c = s.retries?.counts;
        set({ outcome: 'retried' }, c?.retried ?? 0);
        set({ outcome: 'budget_exhausted' }, c?.budget_exhausted ?? 0);
        set({ outcome: 'overflow' }, c?.overflow ?? 0);
        set({ outcome: 'body_too_large' }, c?.body_too_large ?? 0);
      },
    );
    counter(
      'weft_memory_releases_total',
      'Memory the agent gave back once quiet (agent/memory.ts): full collections of its heap, and malloc_trim calls returning freed memory to the kernel.',
      ['kind'],
      (set, s) => {
        if (!s.memory) return;
        set({ kind: 'collection' }, s.memory.collections);
        set({ kind: 'trim' }, s.memory.trims);
      },
    );
    counter(
      'weft_connections_revoked_total',
      'Carried connections reset because a policy change no longer allowed them (--revoke-on-policy-change).',
      ['node'],
      (set, s) => set({ node }, s.proxy.revoked ?? 0),
    );
    gauge(
      'weft_identity_expiry_seconds',
      'Seconds until each workload certificate expires.',
      ['spiffe_id'],
      (g, s) => {
        for (const i of s.identities)
          if (i.notAfter) g.set({ spiffe_id: i.spiffeId }, (Date.parse(i.notAfter) - now()) / 1000);
      },
    );
  }
}
