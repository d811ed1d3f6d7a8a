// One DestinationRule document (networking.istio.io/v1 or v1beta1) → the rule for a
// Service host, or an error naming each field weft refuses: its load balancer,
// connection pool and outlier detection are read, at the top level and per port; every
// other field (subsets, tls, exportTo, workloadSelector, ...) is refused by name, since
// applying a rule without it would do what its author did not write. Pure.
import type {
  ConnectionPool,
  DestinationRule,
  LbSimple,
  ObjectError,
  OutlierDetection,
  TrafficSettings,
} from '../../state/index.ts';
import { describe, isAbsent, isDns1123Label, isPortNumber } from '../fields.ts';
import { createdAt, objectHeader } from '../routes/reader.ts';
import { DrReporter, INT32_MAX } from './reader.ts';

export const ISTIO_NETWORKING = 'networking.istio.io';
export const DR_API_VERSIONS: readonly string[] = [
  `${ISTIO_NETWORKING}/v1`,
  `${ISTIO_NETWORKING}/v1beta1`,
];
/** portLevelSettings entries weft reads (Istio's schema has no bound; a Service has few ports). */
export const MAX_PORT_SETTINGS = 64;

export interface DrParseResult {
  /** Present only when nothing was reported. */
  readonly rule?: DestinationRule;
  readonly errors: ObjectError[];
  /** `DestinationRule namespace/name` when the document names one (its last good version is kept). */
  readonly id?: string;
}

export function isDestinationRuleDocument(doc: Record<string, unknown>): boolean {
  return (
    doc.kind === 'DestinationRule' &&
    typeof doc.apiVersion === 'string' &&
    doc.apiVersion.startsWith(`${ISTIO_NETWORKING}/`)
  );
}

const SPEC = ['host', 'trafficPolicy'];
const SPEC_ISTIO = ['subsets', 'exportTo', 'workloadSelector'];
const POLICY = ['loadBalancer', 'connectionPool', 'outlierDetection', 'portLevelSettings'];
const POLICY_ISTIO = ['tls', 'tunnel', 'proxyProtocol', 'retryBudget'];
const PORT = ['port', 'loadBalancer', 'connectionPool', 'outlierDetection'];
const PORT_ISTIO = ['tls'];
const LB = ['simple'];
const LB_ISTIO = ['consistentHash', 'localityLbSetting', 'warmupDurationSecs', 'warmup'];
const POOL = ['tcp', 'http'];
const TCP = ['maxConnections', 'connectTimeout'];
const TCP_ISTIO = ['tcpKeepalive', 'maxConnectionDuration', 'idleTimeout', 'tcpNoDelay'];
const HTTP = [
  'http1MaxPendingRequests',
  'http2MaxRequests',
  'maxRequestsPerConnection',
  'maxRetries',
  'idleTimeout',
];
const HTTP_ISTIO = ['h2UpgradePolicy', 'useClientProtocol', 'maxConcurrentStreams'];
const OUTLIER = [
  'consecutive5xxErrors',
  'consecutiveGatewayErrors',
  'interval',
  'baseEjectionTime',
  'maxEjectionPercent',
];
const OUTLIER_ISTIO = [
  'consecutiveErrors',
  'splitExternalLocalOriginErrors',
  'consecutiveLocalOriginFailures',
  'minHealthPercent',
];
const SIMPLE: readonly string[] = ['ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM', 'LEAST_CONN'];

export function parseDestinationRule(
  file: string,
  doc: Record<string, unknown>,
  index: number,
): DrParseResult {
  const { r, id, name, namespace, meta } = objectHeader(
    (o) => new DrReporter(file, o),
    doc,
    index,
    'DestinationRule',
    DR_API_VERSIONS,
  );
  const spec = r.map(doc.spec, 'spec', true);
  if (!spec || !namespace || !name) return { errors: r.errors, ...(id ? { id } : {}) };
  r.fields(spec, 'spec', SPEC, SPEC_ISTIO);
  const host = typeof spec.host === 'string' ? spec.host : undefined;
  const service = host === undefined ? undefined : serviceOf(host, namespace);
  if (!service)
    r.add(
      'spec.host',
      `expected a Service: its name, name.namespace, name.namespace.svc or name.namespace.svc.<cluster domain> (no wildcard, no external host), found ${describe(spec.host)}`,
    );
  const tp = r.map(spec.trafficPolicy, 'spec.trafficPolicy', false);
  let settings: TrafficSettings = {};
  const ports: { port: number; settings: TrafficSettings }[] = [];
  if (tp) {
    r.fields(tp, 'spec.trafficPolicy', POLICY, POLICY_ISTIO);
    settings = readSettings(tp, 'spec.trafficPolicy', r);
    const list = r.bounded(
      tp.portLevelSettings,
      'spec.trafficPolicy.portLevelSettings',
      MAX_PORT_SETTINGS,
    );
    const seen = new Set<number>();
    for (const [i, raw] of list.entries()) {
      const f = `spec.trafficPolicy.portLevelSettings[${i}]`;
      const e = r.map(raw, f, true);
      if (!e) continue;
      r.fields(e, f, PORT, PORT_ISTIO);
      const pm = r.map(e.port, `${f}.port`, true);
      let port: number | undefined;
      if (pm) {
        r.fields(pm, `${f}.port`, ['number'], []);
        if (isPortNumber(pm.number)) port = pm.number;
        else
          r.add(
            `${f}.port.number`,
            `expected a port number from 1 to 65535, found ${describe(pm.number)}`,
          );
      }
      const s = readSettings(e, f, r);
      if (port === undefined) continue;
      if (seen.has(port)) r.add(`${f}.port.number`, `expected each port once, found ${port} again`);
      seen.add(port);
      ports.push({ port, settings: s });
    }
  }
  if (r.errors.length > 0 || !service) return { errors: r.errors, ...(id ? { id } : {}) };
  return {
    rule: {
      namespace,
      name,
      host: host!,
      service,
      created: createdAt(meta?.creationTimestamp),
      settings,
      ports,
    },
    errors: [],
    id: id!,
  };
}

/** `namespace/name` of the Service a host names, or undefined when it names none. */
export function serviceOf(host: string, namespace: string): string | undefined {
  const parts = host.split('.');
  const [svc, ns] = parts;
  if (!svc || !isDns1123Label(svc)) return undefined;
  if (parts.length === 1) return `${namespace}/${svc}`;
  if (!ns || !isDns1123Label(ns)) return undefined;
  if (parts.length === 2) return `${ns}/${svc}`;
  if (parts[2] !== 'svc') return undefined;
  if (parts.length > 3 && !parts.slice(3).every((l) => isDns1123Label(l))) return undefined;
  return `${ns}/${svc}`;
}

function readSettings(m: Record<string, unknown>, f: string, r: DrReporter): TrafficSettings {
  const out: {
    -readonly [K in keyof TrafficSettings]: TrafficSettings[K];
  } = {};
  const lb = r.map(m.loadBalancer, `${f}.loadBalancer`, false);
  if (lb && !isAbsent(m.loadBalancer)) {
    r.fields(lb, `${f}.loadBalancer`, LB, LB_ISTIO);
    if (!isAbsent(lb.simple)) {
      const s = r.oneOf(lb.simple, `${f}.loadBalancer.simple`, SIMPLE);
      // LEAST_CONN is Istio's deprecated name of LEAST_REQUEST.
      if (s) out.lb = (s === 'LEAST_CONN' ? 'LEAST_REQUEST' : s) as LbSimple;
    }
  }
  const pool = r.map(m.connectionPool, `${f}.connectionPool`, false);
  if (pool && !isAbsent(m.connectionPool)) {
    const cp: { -readonly [K in keyof ConnectionPool]: ConnectionPool[K] } = {};
    r.fields(pool, `${f}.connectionPool`, POOL, []);
    const tcp = r.map(pool.tcp, `${f}.connectionPool.tcp`, false);
    if (tcp) {
      const t = `${f}.connectionPool.tcp`;
      r.fields(tcp, t, TCP, TCP_ISTIO);
      set(cp, 'maxConnections', r.optInt(tcp.maxConnections, `${t}.maxConnections`, 0, INT32_MAX));
      set(cp, 'connectTimeoutMs', r.istioDuration(tcp.connectTimeout, `${t}.connectTimeout`));
    }
    const http = r.map(pool.http, `${f}.connectionPool.http`, false);
    if (http) {
      const h = `${f}.connectionPool.http`;
      r.fields(http, h, HTTP, HTTP_ISTIO);
      for (const k of [
        'http1MaxPendingRequests',
        'http2MaxRequests',
        'maxRequestsPerConnection',
        'maxRetries',
      ] as const)
        set(cp, k, r.optInt(http[k], `${h}.${k}`, 0, INT32_MAX));
      set(cp, 'idleTimeoutMs', r.istioDuration(http.idleTimeout, `${h}.idleTimeout`));
    }
    out.pool = cp;
  }
  const od = r.map(m.outlierDetection, `${f}.outlierDetection`, false);
  if (od && !isAbsent(m.outlierDetection)) {
    const o = `${f}.outlierDetection`;
    r.fields(od, o, OUTLIER, OUTLIER_ISTIO);
    const outlier: { -readonly [K in keyof OutlierDetection]: OutlierDetection[K] } = {};
    set(
      outlier,
      'consecutive5xxErrors',
      r.optInt(od.consecutive5xxErrors, `${o}.consecutive5xxErrors`, 0, INT32_MAX),
    );
    set(
      outlier,
      'consecutiveGatewayErrors',
      r.optInt(od.consecutiveGatewayErrors, `${o}.consecutiveGatewayErrors`, 0, INT32_MAX),
    );
    set(outlier, 'intervalMs', r.istioDuration(od.interval, `${o}.interval`));
    set(outlier, 'baseEjectionMs', r.istioDuration(od.baseEjectionTime, `${o}.baseEjectionTime`));
    set(
      outlier,
      'maxEjectionPercent',
      r.optInt(od.maxEjectionPercent, `${o}.maxEjectionPercent`, 0, 100),
    );
    out.outlier = outlier;
  }
  return out;
}

function set<T extends object, K extends keyof T>(o: T, k: K, v: T[K] | undefined): void {
  if (v !== undefined) o[k] = v;
}
