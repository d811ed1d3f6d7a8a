// Istio's standard metrics, under its names and labels, so Istio's Grafana
// dashboards and Kiali read weft unchanged: istio_tcp_* from each connection's
// record (told once at open and once at close), istio_request* from each
// finished HTTP or gRPC request (the RequestSink). Labels name workloads, never
// pods or addresses; each label set is found once and kept, and past the bound
// new label sets are folded into one `overflow` set (and counted).
import { Counter, type Registry } from 'prom-client';
import { serviceHost } from '../config/index.ts';
import type { PolicyTables } from '../tables/index.ts';
import type { ByteCounts, Connection, ConnectionObserver } from './connection.ts';
import { type HistogramSeries, observe, PlainHistogram } from './plain-histogram.ts';
import type { RequestRecord, RequestSink } from './request-record.ts';
import { UNKNOWN, type WorkloadLabels, workloadLabels } from './workload-labels.ts';

const PEER = [
  'workload',
  'workload_namespace',
  'principal',
  'app',
  'version',
  'canonical_service',
  'canonical_revision',
  'cluster',
] as const;

export const TCP_LABELS = [
  'reporter',
  ...PEER.map((p) => `source_${p}`),
  ...PEER.map((p) => `destination_${p}`),
  'destination_service',
  'destination_service_name',
  'destination_service_namespace',
  'request_protocol',
  'response_flags',
  'connection_security_policy',
] as const;

export const REQUEST_LABELS = [...TCP_LABELS, 'response_code', 'grpc_response_status'] as const;

/** Label sets kept at most, TCP and requests each; later ones fold into `overflow`. */
export const MAX_TCP_SERIES = 5000;
export const MAX_REQUEST_SERIES = 1000;

/** Istio's default buckets: milliseconds, and bytes. */
export const DURATION_BUCKETS = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000,
  1800000, 3600000,
];
export const BYTES_BUCKETS = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000];

type Labels = Record<string, string>;

/**
 * One TCP label set's counts, kept as plain numbers: prom-client hashes and checks a
 * child's 23 labels on every increment, so the per-connection path adds here and the
 * counters read these when scraped.
 */
interface TcpSeries {
  readonly labels: Labels;
  opened: number;
  closed: number;
  sent: number;
  received: number;
}

/** One request label set, as plain numbers for the same reason (read when scraped). */
interface RequestSeries {
  readonly labels: Labels;
  total: number;
  readonly duration: HistogramSeries;
  readonly requestBytes: HistogramSeries;
  readonly responseBytes: HistogramSeries;
}

export interface IstioOptions {
  /** The `*_cluster` label (Istio's default: Kubernetes). */
  cluster?: string;
  /** The snapshot's pods, to name workloads. */
  tables(): PolicyTables;
  maxTcpSeries?: number;
  maxRequestSeries?: number;
}

const flagOf = (f: string) => (f === '' ? '-' : f);

export class IstioMetrics implements ConnectionObserver, RequestSink {
  private readonly req: {
    duration: PlainHistogram;
    requestBytes: PlainHistogram;
    responseBytes: PlainHistogram;
  };
  private readonly overflowed: Counter<string>;
  private readonly tcpSeries = new Map<string, TcpSeries>();
  private readonly requestSeries = new Map<string, RequestSeries>();
  private readonly opts: IstioOptions;
  private readonly cluster: string;

  constructor(registry: Registry, opts: IstioOptions) {
    this.opts = opts;
    this.cluster = opts.cluster ?? 'Kubernetes';
    const registers = [registry];
    const counter = (name: string, help: string, labelNames: readonly string[]) =>
      new Counter({ name, help, labelNames, registers });
    const series = this.tcpSeries;
    const tcpCounter = (name: string, help: string, pick: (s: TcpSeries) => number) =>
      new Counter({
        name,
        help,
        labelNames: TCP_LABELS,
        registers,
        collect() {
          this.reset();
          for (const s of series.values()) this.inc(s.labels, pick(s));
        },
      });
    // Registered with the registry, which reads them when scraped.
    tcpCounter('istio_tcp_connections_opened_total', 'TCP connections opened.', (s) => s.opened);
    tcpCounter('istio_tcp_connections_closed_total', 'TCP connections closed.', (s) => s.closed);
    tcpCounter(
      'istio_tcp_sent_bytes_total',
      'Bytes sent to the source (the response direction), counted when the connection closes.',
      (s) => s.sent,
    );
    tcpCounter(
      'istio_tcp_received_bytes_total',
      'Bytes received from the source (the request direction), counted when the connection closes.',
      (s) => s.received,
    );
    const requests = this.requestSeries;
    new Counter({
      name: 'istio_requests_total',
      help: 'HTTP and gRPC requests.',
      labelNames: REQUEST_LABELS,
      registers,
      collect() {
        this.reset();
        for (const s of requests.values()) this.inc(s.labels, s.total);
      },
    });
    this.req = {
      duration: new PlainHistogram(
        registry,
        'istio_request_duration_milliseconds',
        'Request duration, first byte in to last byte out.',
        DURATION_BUCKETS,
      ),
      requestBytes: new PlainHistogram(
        registry,
        'istio_request_bytes',
        'Request body sizes.',
        BYTES_BUCKETS,
      ),
      responseBytes: new PlainHistogram(
        registry,
        'istio_response_bytes',
        'Response body sizes.',
        BYTES_BUCKETS,
      ),
    };
    this.overflowed = counter(
      'weft_metrics_series_overflow_total',
      'Connections and requests counted under the overflow label set (the label set bound was reached).',
      ['family'],
    );
  }

  opened(c: Connection): void {
    const s = this.tcpOf(c);
    c.series = s;
    s.opened++;
  }

  closed(c: Connection, counts: ByteCounts): void {
    const s = (c.series as TcpSeries | null) ?? this.tcpOf(c);
    s.closed++;
    s.sent += counts.toClient;
    s.received += counts.fromClient;
  }

  request(r: RequestRecord): void {
    const s = this.requestOf(r);
    s.total++;
    observe(s.duration, r.durationMs);
    observe(s.requestBytes, r.requestBytes);
    observe(s.responseBytes, r.responseBytes);
  }

  private pod(key: string | null | undefined): WorkloadLabels {
    return key ? workloadLabels(this.opts.tables().pods.get(key)) : workloadLabels(undefined);
  }

  private peer(prefix: string, w: WorkloadLabels, principal: string | null | undefined, l: Labels) {
    l[`${prefix}_workload`] = w.workload;
    l[`${prefix}_workload_namespace`] = w.namespace;
    l[`${prefix}_principal`] = principal ?? UNKNOWN;
    l[`${prefix}_app`] = w.app;
    l[`${prefix}_version`] = w.version;
    l[`${prefix}_canonical_service`] = w.canonicalService;
    l[`${prefix}_canonical_revision`] = w.canonicalRevision;
    l[`${prefix}_cluster`] = w === workloadLabels(undefined) ? UNKNOWN : this.cluster;
  }

  private labels(
    reporter: string,
    src: string | null | undefined,
    dst: string | null | undefined,
    srcPrincipal: string | null | undefined,
    dstPrincipal: string | null | undefined,
    service: string | null | undefined,
    protocol: string,
    flags: string,
    mtls: boolean,
  ): Labels {
    const l: Labels = { reporter };
    this.peer('source', this.pod(src), srcPrincipal, l);
    this.peer('destination', this.pod(dst), dstPrincipal, l);
    const slash = service ? service.indexOf('/') : -1;
    const ns = slash > 0 ? service!.slice(0, slash) : '';
    const name = slash > 0 ? service!.slice(slash + 1) : '';
    l.destination_service = name ? serviceHost(name, ns) : UNKNOWN;
    l.destination_service_name = name || UNKNOWN;
    l.destination_service_namespace = ns || UNKNOWN;
    l.request_protocol = protocol;
    l.response_flags = flagOf(flags);
    l.connection_security_policy = mtls ? 'mutual_tls' : 'none';
    return l;
  }

  private tcpOf(c: Connection): TcpSeries {
    const reporter = c.direction === 'outbound' ? 'source' : 'destination';
    const mtls = c.via === 'hbone' || (c.via === 'local' && c.source !== null);
    const key = `${reporter}|${c.sourceWorkload}|${c.destinationWorkload}|${c.source}|${c.destinationPrincipal}|${c.service}|${c.flag}|${mtls}`;
    let s = this.tcpSeries.get(key);
    if (s) return s;
    const max = this.opts.maxTcpSeries ?? MAX_TCP_SERIES;
    if (this.tcpSeries.size >= max) {
      this.overflowed.inc({ family: 'tcp' });
      return this.overflow(this.tcpSeries, reporter, () =>
        this.tcpFor(overflowLabels(TCP_LABELS, reporter)),
      );
    }
    s = this.tcpFor(
      this.labels(
        reporter,
        c.sourceWorkload,
        c.destinationWorkload,
        c.source,
        c.destinationPrincipal,
        c.service,
        'tcp',
        c.flag,
        mtls,
      ),
    );
    this.tcpSeries.set(key, s);
    return s;
  }

  private tcpFor(l: Labels): TcpSeries {
    return { labels: l, opened: 0, closed: 0, sent: 0, received: 0 };
  }

  private requestOf(r: RequestRecord): RequestSeries {
    const key = `${r.reporter}|${r.sourcePod}|${r.destinationPod}|${r.sourcePrincipal}|${r.destinationPrincipal}|${r.destinationService}|${r.protocol}|${r.status}|${r.grpcStatus}|${r.responseFlags}|${r.mtls}`;
    let s = this.requestSeries.get(key);
    if (s) return s;
    const max = this.opts.maxRequestSeries ?? MAX_REQUEST_SERIES;
    if (this.requestSeries.size >= max) {
      this.overflowed.inc({ family: 'requests' });
      return this.overflow(this.requestSeries, r.reporter, () =>
        this.requestFor(overflowLabels(REQUEST_LABELS, r.reporter)),
      );
    }
    const l = this.labels(
      r.reporter,
      r.sourcePod,
      r.destinationPod,
      r.sourcePrincipal,
      r.destinationPrincipal,
      r.destinationService,
      r.protocol,
      r.responseFlags,
      r.mtls,
    );
    l.response_code = String(r.status);
    l.grpc_response_status = r.grpcStatus === undefined ? '' : String(r.grpcStatus);
    s = this.requestFor(l);
    this.requestSeries.set(key, s);
    return s;
  }

  private requestFor(l: Labels): RequestSeries {
    return {
      labels: l,
      total: 0,
      duration: this.req.duration.series(l),
      requestBytes: this.req.requestBytes.series(l),
      responseBytes: this.req.responseBytes.series(l),
    };
  }

  /** The one overflow set of a family, made on first need and kept beside the bounded ones. */
  private overflow<T>(m: Map<string, T>, reporter: string, make: () => T): T {
    const k = `\0overflow|${reporter}`;
    let s = m.get(k);
    if (!s) {
      s = make();
      m.set(k, s);
    }
    return s;
  }
}

function overflowLabels(names: readonly string[], reporter: string): Labels {
  const l: Labels = {};
  for (const n of names) l[n] = 'overflow';
  l.reporter = reporter;
  return l;
}
