// One manifest file → the Namespaces, Pods and Services in it, plus a precise
// error for every field that Kubernetes itself would reject. Pure: no I/O.
import { isIP } from 'node:net';
import { LineCounter, parseAllDocuments } from 'yaml';
import type {
  AuthorizationPolicy,
  ContainerPort,
  DestinationRule,
  GrpcRoute,
  HttpFault,
  HttpLocalRateLimitPolicy,
  HttpRoute,
  IpFamilyPolicy,
  Labels,
  Namespace,
  NetworkPolicy,
  ObjectError,
  Pod,
  ReferenceGrant,
  Service,
  ServicePort,
} from '../../state/index.ts';
import { isDestinationRuleDocument, parseDestinationRule } from '../destination-rules/dr-parse.ts';
import {
  DNS1123_LABEL_WHAT,
  DNS1123_SUBDOMAIN_WHAT,
  describe,
  fieldKey,
  isAbsent,
  isDns1123Label,
  isDns1123Subdomain,
  isLabelKey,
  isLabelValue,
  isMap,
  isPortName,
  isPortNumber,
  LABEL_KEY_WHAT,
  LABEL_VALUE_WHAT,
  PORT_NAME_WHAT,
} from '../fields.ts';
import { isAuthorizationPolicy, parseAuthorizationPolicy } from '../policy/authz-parse.ts';
import { NETPOL_API_VERSION, parseNetworkPolicy } from '../policy/netpol-parse.ts';
import { isRateLimitDocument, parseRateLimitPolicy } from '../policy/rate-limit-parse.ts';
import { Reporter as FieldReporter } from '../report.ts';
import { isFaultDocument, parseHttpFault } from '../routes/fault-parse.ts';
import { isGrantDocument, parseReferenceGrant } from '../routes/grant-parse.ts';
import { isRouteDocument, parseRoute } from '../routes/route-parse.ts';

export type ParsedObject =
  | { kind: 'Namespace'; value: Namespace }
  | { kind: 'Pod'; value: Pod }
  | { kind: 'Service'; value: Service }
  | { kind: 'NetworkPolicy'; value: NetworkPolicy }
  | { kind: 'AuthorizationPolicy'; value: AuthorizationPolicy }
  | { kind: 'HTTPRoute'; value: HttpRoute }
  | { kind: 'GRPCRoute'; value: GrpcRoute }
  | { kind: 'ReferenceGrant'; value: ReferenceGrant }
  | { kind: 'HTTPLocalRateLimitPolicy'; value: HttpLocalRateLimitPolicy }
  | { kind: 'HTTPFault'; value: HttpFault }
  | { kind: 'DestinationRule'; value: DestinationRule };

/** An object of a kind this parser leaves to other components (NetworkPolicy, ...). */
export interface IgnoredObject {
  readonly kind: string;
  readonly object: unknown;
}

export interface ParseResult {
  /** Valid objects, in document order. */
  readonly objects: ParsedObject[];
  /** Identities (see objectId) of recognised objects that were rejected, in document order. */
  readonly rejected: string[];
  readonly ignored: IgnoredObject[];
  readonly errors: ObjectError[];
  /**
   * Stand-ins for rejected objects that must fail closed when no last good version of
   * them exists (an AuthorizationPolicy denying what it selects), by identity.
   */
  readonly fallbacks?: ParsedObject[];
  /** The file as a whole is unusable (YAML syntax, unreadable): none of its content is trusted. */
  readonly broken: boolean;
}

type Kind = 'Namespace' | 'Pod' | 'Service';
type Protocol = ContainerPort['protocol'];

/** `Namespace name`, `Pod ns/name`, `Service ns/name`: the identity used in errors and merging. */
export function objectId(o: ParsedObject): string {
  if (
    o.kind === 'NetworkPolicy' ||
    o.kind === 'AuthorizationPolicy' ||
    o.kind === 'HTTPRoute' ||
    o.kind === 'GRPCRoute' ||
    o.kind === 'ReferenceGrant' ||
    o.kind === 'HTTPLocalRateLimitPolicy' ||
    o.kind === 'HTTPFault' ||
    o.kind === 'DestinationRule'
  ) {
    return `${o.kind} ${o.value.namespace}/${o.value.name}`;
  }
  return o.kind === 'Namespace'
    ? idOf('Namespace', undefined, o.value.name)
    : idOf(o.kind, o.value.namespace, o.value.name);
}

function idOf(kind: Kind, namespace: string | undefined, name: string): string {
  return namespace === undefined ? `${kind} ${name}` : `${kind} ${namespace}/${name}`;
}

export function parseManifestFile(file: string, text: string): ParseResult {
  const result: ParseResult = {
    objects: [],
    rejected: [],
    ignored: [],
    errors: [],
    fallbacks: [],
    broken: false,
  };
  const lines = new LineCounter();
  const docs = parseAllDocuments(text.replace(/^\uFEFF/, ''), {
    lineCounter: lines,
    prettyErrors: false,
  });
  for (const [i, doc] of docs.entries()) {
    const where = `document ${i + 1}`;
    const bad = doc.errors[0];
    if (bad) {
      const { line, col } = lines.linePos(bad.pos[0]);
      return broken(
        file,
        where,
        `YAML syntax error at line ${line}, column ${col}: ${bad.message}`,
      );
    }
    let raw: unknown;
    try {
      raw = doc.toJS();
    } catch (err) {
      // Alias bombs and the like: the document is well formed but cannot become data.
      const { line } = lines.linePos(doc.range[0]);
      return broken(file, where, `YAML error in the document at line ${line}: ${message(err)}`);
    }
    if (raw === null || raw === undefined) continue;
    readDocument(raw, file, i + 1, result);
  }
  return result;
}

/**
 * Objects that come from no file (the Kubernetes API): read as one file named
 * `source` would be, each object its own document, so they get the same checks.
 */
export function parseObjects(source: string, objects: readonly unknown[]): ParseResult {
  const result: ParseResult = {
    objects: [],
    rejected: [],
    ignored: [],
    errors: [],
    fallbacks: [],
    broken: false,
  };
  for (const [i, o] of objects.entries()) readObject(o, source, i + 1, '', result);
  return result;
}

/** Results of parts of one source, as one. */
export function concatResults(parts: readonly ParseResult[]): ParseResult {
  return {
    objects: parts.flatMap((p) => p.objects),
    rejected: parts.flatMap((p) => p.rejected),
    ignored: parts.flatMap((p) => p.ignored),
    errors: parts.flatMap((p) => p.errors),
    fallbacks: parts.flatMap((p) => p.fallbacks ?? []),
    broken: parts.some((p) => p.broken),
  };
}

function broken(file: string, object: string, msg: string): ParseResult {
  return {
    objects: [],
    rejected: [],
    ignored: [],
    errors: [{ file, object, field: '', message: msg }],
    broken: true,
  };
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function readDocument(raw: unknown, file: string, doc: number, out: ParseResult): void {
  if (isMap(raw) && raw.kind === 'List') {
    const items = raw.items;
    if (!Array.isArray(items)) {
      const r = new Reporter(file, `document ${doc}`, '');
      r.add('items', `expected a list of objects, found ${describe(items)}`);
      out.errors.push(...r.errors);
      return;
    }
    for (const [j, item] of items.entries()) readObject(item, file, doc, `items[${j}]`, out);
    return;
  }
  readObject(raw, file, doc, '', out);
}

const kinds: readonly string[] = ['Namespace', 'Pod', 'Service'];

function readObject(raw: unknown, file: string, doc: number, prefix: string, out: ParseResult) {
  const anonymous = new Reporter(file, `document ${doc}`, prefix);
  if (!isMap(raw)) {
    anonymous.add(
      '',
      `expected a Kubernetes object (a map with kind and metadata), found ${describe(raw)}`,
    );
    out.errors.push(...anonymous.errors);
    return;
  }
  const { kind, apiVersion } = raw;
  if (typeof kind !== 'string' || kind === '') {
    anonymous.add('kind', `expected the object's kind, such as Pod, found ${describe(kind)}`);
    out.errors.push(...anonymous.errors);
    return;
  }
  if (kind === 'List') {
    anonymous.add('kind', 'expected an object, found a List inside a List');
    out.errors.push(...anonymous.errors);
    return;
  }
  // Policies have parsers of their own (agent/src/policy/).
  if (kind === 'NetworkPolicy' && apiVersion === NETPOL_API_VERSION) {
    const r = parseNetworkPolicy(file, raw, doc - 1);
    if (r.policy) out.objects.push({ kind, value: r.policy });
    else out.rejected.push(policyId(kind, raw.metadata));
    if (r.fallback) out.fallbacks?.push({ kind, value: r.fallback });
    out.errors.push(...r.errors);
    return;
  }
  if (isAuthorizationPolicy(raw)) {
    const r = parseAuthorizationPolicy(file, raw, doc - 1);
    if (r.policy) out.objects.push({ kind: 'AuthorizationPolicy', value: r.policy });
    else out.rejected.push(policyId('AuthorizationPolicy', raw.metadata));
    if (r.fallback) out.fallbacks?.push({ kind: 'AuthorizationPolicy', value: r.fallback });
    out.errors.push(...r.errors);
    return;
  }
  // Gateway API routes bound to Services, and the grants that let them reach across namespaces.
  if (isRouteDocument(raw)) {
    const r = parseRoute(file, raw, doc - 1);
    if (r.route?.kind === 'HTTPRoute') out.objects.push({ kind: 'HTTPRoute', value: r.route });
    else if (r.route?.kind === 'GRPCRoute') out.objects.push({ kind: 'GRPCRoute', value: r.route });
    else if (r.id) out.rejected.push(r.id);
    out.errors.push(...r.errors);
    return;
  }
  if (isFaultDocument(raw)) {
    const r = parseHttpFault(file, raw, doc - 1);
    if (r.fault) out.objects.push({ kind: 'HTTPFault', value: r.fault });
    else if (r.id) out.rejected.push(r.id);
    out.errors.push(...r.errors);
    return;
  }
  if (isDestinationRuleDocument(raw)) {
    const r = parseDestinationRule(file, raw, doc - 1);
    if (r.rule) out.objects.push({ kind: 'DestinationRule', value: r.rule });
    else if (r.id) out.rejected.push(r.id);
    out.errors.push(...r.errors);
    return;
  }
  if (isGrantDocument(raw)) {
    const r = parseReferenceGrant(file, raw, doc - 1);
    if (r.grant) out.objects.push({ kind: 'ReferenceGrant', value: r.grant });
    else if (r.id) out.rejected.push(r.id);
    out.errors.push(...r.errors);
    return;
  }
  if (isRateLimitDocument(raw)) {
    const r = parseRateLimitPolicy(file, raw, doc - 1);
    if (r.policy) out.objects.push({ kind: 'HTTPLocalRateLimitPolicy', value: r.policy });
    else if (r.id) out.rejected.push(r.id);
    out.errors.push(...r.errors);
    return;
  }
  // A kind of another API group (a Knative Service, say) is someone else's object.
  const foreign = typeof apiVersion === 'string' && apiVersion.includes('/');
  if (!kinds.includes(kind) || foreign) {
    out.ignored.push({ kind, object: raw });
    return;
  }
  const k = kind as Kind;
  const id = identify(k, raw.metadata);
  // A named object's fields are relative to it; an unnamed one needs the path inside the document.
  const r = id ? new Reporter(file, id, '') : anonymous;
  if (apiVersion !== 'v1')
    r.add('apiVersion', `expected v1 for a ${k}, found ${describe(apiVersion)}`);
  const object: ParsedObject =
    k === 'Namespace'
      ? { kind: k, value: readNamespace(raw, r) }
      : k === 'Pod'
        ? { kind: k, value: readPod(raw, r) }
        : { kind: k, value: readService(raw, r) };
  if (r.errors.length === 0) {
    out.objects.push(object);
  } else {
    out.errors.push(...r.errors);
    if (id) out.rejected.push(id);
  }
}

/** A policy's identity for last-good merging, `Kind ns/name`, as its parser names it. */
function policyId(kind: 'NetworkPolicy' | 'AuthorizationPolicy', metadata: unknown): string {
  const m = isMap(metadata) ? metadata : {};
  const ns = typeof m.namespace === 'string' && m.namespace !== '' ? m.namespace : 'default';
  return `${kind} ${ns}/${typeof m.name === 'string' ? m.name : ''}`;
}

/** The object's identity when its metadata names it at all (even with an invalid name). */
function identify(kind: Kind, metadata: unknown): string | undefined {
  if (!isMap(metadata)) return undefined;
  const { name, namespace } = metadata;
  if (typeof name !== 'string' || name === '') return undefined;
  if (kind === 'Namespace') return idOf(kind, undefined, name);
  if (isAbsent(namespace) || namespace === '') return idOf(kind, 'default', name);
  return typeof namespace === 'string' ? idOf(kind, namespace, name) : undefined;
}

// --- the three kinds ---------------------------------------------------------
// Each reader reports every mistake it finds and returns its best reading; the
// caller keeps the value only when nothing was reported.

function readNamespace(raw: Record<string, unknown>, r: Reporter): Namespace {
  const meta = r.map(raw.metadata, 'metadata', true);
  return {
    name: (meta && r.name(meta.name, 'metadata.name', dns1123Label)) ?? '',
    labels: r.labels(meta?.labels, 'metadata.labels'),
  };
}

function readPod(raw: Record<string, unknown>, r: Reporter): Pod {
  // Read in document order so errors come out in the order the reader meets them.
  const meta = r.map(raw.metadata, 'metadata', true);
  const name = (meta && r.name(meta.name, 'metadata.name', dns1123Subdomain)) ?? '';
  const namespace = (meta && r.namespace(meta.namespace)) ?? '';
  const labels = r.labels(meta?.labels, 'metadata.labels');
  const annotations = r.annotations(meta?.annotations, 'metadata.annotations');
  const spec = r.map(raw.spec, 'spec', true);
  // serviceAccount is the deprecated spelling; Kubernetes still honours it.
  const [sa, saField] = isAbsent(spec?.serviceAccountName)
    ? [spec?.serviceAccount, 'spec.serviceAccount']
    : [spec?.serviceAccountName, 'spec.serviceAccountName'];
  const serviceAccountName = isAbsent(sa) ? 'default' : r.name(sa, saField, dns1123Subdomain);
  const nodeName = spec && r.name(spec.nodeName, 'spec.nodeName', dns1123Subdomain);
  const ports = readContainerPorts(spec?.containers, r);
  const status = r.map(raw.status, 'status', false);
  const givenIP = r.ip(status?.podIP, 'status.podIP');
  const podIPs = readPodIPs(status?.podIPs, givenIP, r);
  // podIP is podIPs[0] in Kubernetes; a document with the list alone means the same.
  const podIP = givenIP ?? podIPs[0];
  const hostIP = r.ip(status?.hostIP, 'status.hostIP');
  return {
    namespace,
    name,
    labels,
    annotations,
    serviceAccountName: serviceAccountName ?? '',
    nodeName: nodeName ?? '',
    ports,
    ...(podIP ? { podIP } : {}),
    ...(podIPs.length ? { podIPs } : {}),
    ...(hostIP ? { hostIP } : {}),
  };
}

/** status.podIPs: [{ip}], one per family, the first being status.podIP, as Kubernetes holds them. */
function readPodIPs(v: unknown, podIP: string | undefined, r: Reporter): string[] {
  const ips: string[] = [];
  for (const [i, e] of r.list(v, 'status.podIPs').entries()) {
    const m = r.map(e, `status.podIPs[${i}]`, true);
    const ip = m && r.ip(m.ip, `status.podIPs[${i}].ip`);
    if (m && ip === undefined && isAbsent(m.ip))
      r.add(`status.podIPs[${i}].ip`, 'expected an IPv4 or IPv6 address, found nothing');
    if (ip) ips.push(ip);
  }
  checkFamilies(ips, podIP, 'status.podIPs', 'status.podIP', r);
  return ips;
}

/** A dual-stack address list: at most one address per family, led by the singular field. */
function checkFamilies(
  ips: readonly string[],
  first: string | undefined,
  field: string,
  firstField: string,
  r: Reporter,
): void {
  if (ips.length === 0) return;
  if (ips.length > 2 || (ips.length === 2 && isIP(ips[0]!) === isIP(ips[1]!)))
    r.add(
      field,
      `expected one address per family (at most one IPv4 and one IPv6), found ${ips.join(', ')}`,
    );
  if (first !== undefined && ips[0] !== first)
    r.add(field, `expected ${firstField} (${first}) first, found ${ips[0]}`);
}

function readContainerPorts(containers: unknown, r: Reporter): ContainerPort[] {
  const ports: ContainerPort[] = [];
  for (const [ci, c] of r.list(containers, 'spec.containers').entries()) {
    const cf = `spec.containers[${ci}]`;
    const container = r.map(c, cf, true);
    if (!container) continue;
    // Kubernetes wants port names unique within a container; a Service's targetPort names one.
    const names = new Set<string>();
    for (const [pi, p] of r.list(container.ports, `${cf}.ports`).entries()) {
      const pf = `${cf}.ports[${pi}]`;
      const port = r.map(p, pf, true);
      if (!port) continue;
      const containerPort = r.port(port.containerPort, `${pf}.containerPort`);
      const protocol = r.protocol(port.protocol, `${pf}.protocol`);
      const name = isAbsent(port.name) ? undefined : r.name(port.name, `${pf}.name`, ianaSvcName);
      if (name !== undefined) {
        if (names.has(name))
          r.add(`${pf}.name`, `expected a name unique in the container, found "${name}" again`);
        names.add(name);
      }
      if (containerPort === undefined || protocol === undefined) continue;
      ports.push(
        name === undefined ? { containerPort, protocol } : { name, containerPort, protocol },
      );
    }
  }
  return ports;
}

/** spec.trafficDistribution values Kubernetes knows; weft reads each as "prefer this node". */
const TRAFFIC_DISTRIBUTIONS: readonly string[] = [
  'PreferClose',
  'PreferSameZone',
  'PreferSameNode',
];

function readService(raw: Record<string, unknown>, r: Reporter): Service {
  const meta = r.map(raw.metadata, 'metadata', true);
  // Kubernetes holds Service names to RFC 1035 (a letter first): they become DNS names.
  const name = (meta && r.name(meta.name, 'metadata.name', dns1035Label)) ?? '';
  const namespace = (meta && r.namespace(meta.namespace)) ?? '';
  const spec = r.map(raw.spec, 'spec', true);
  const selector = r.labels(spec?.selector, 'spec.selector');
  const ports = spec ? readServicePorts(spec, r) : [];
  const headless = spec?.clusterIP === 'None';
  const given = headless ? undefined : r.ip(spec?.clusterIP, 'spec.clusterIP');
  const clusterIPs = headless ? [] : readClusterIPs(spec?.clusterIPs, given, r);
  // Kubernetes fills clusterIP from clusterIPs[0] when only the list is given.
  const clusterIP = given ?? clusterIPs[0];
  const ipFamilies = readIpFamilies(spec?.ipFamilies, r);
  const policy = spec?.ipFamilyPolicy;
  if (!isAbsent(policy) && !IP_FAMILY_POLICIES.includes(policy as IpFamilyPolicy))
    r.add(
      'spec.ipFamilyPolicy',
      `expected ${IP_FAMILY_POLICIES.join(', ')}, found ${describe(policy)}`,
    );
  if (policy === 'SingleStack' && (ipFamilies.length > 1 || clusterIPs.length > 1))
    r.add('spec.ipFamilyPolicy', 'SingleStack allows one family, found two');
  for (const [i, ip] of clusterIPs.entries()) {
    const family = isIP(ip) === 6 ? 'IPv6' : 'IPv4';
    if (ipFamilies.length > i && ipFamilies[i] !== family)
      r.add(
        `spec.clusterIPs[${i}]`,
        `expected an ${ipFamilies[i]} address (spec.ipFamilies[${i}]), found ${ip}`,
      );
  }
  const td = spec?.trafficDistribution;
  if (!isAbsent(td) && !TRAFFIC_DISTRIBUTIONS.includes(td as string))
    r.add(
      'spec.trafficDistribution',
      `expected ${TRAFFIC_DISTRIBUTIONS.join(', ')}, found ${describe(td)}`,
    );
  return {
    namespace,
    name,
    selector,
    ports,
    ...(typeof td === 'string' && TRAFFIC_DISTRIBUTIONS.includes(td)
      ? { trafficDistribution: td }
      : {}),
    ...(clusterIP ? { clusterIP } : {}),
    ...(clusterIPs.length ? { clusterIPs } : {}),
    ...(ipFamilies.length ? { ipFamilies } : {}),
    ...(typeof policy === 'string' && IP_FAMILY_POLICIES.includes(policy as IpFamilyPolicy)
      ? { ipFamilyPolicy: policy as IpFamilyPolicy }
      : {}),
  };
}

const IP_FAMILY_POLICIES: readonly IpFamilyPolicy[] = [
  'SingleStack',
  'PreferDualStack',
  'RequireDualStack',
];

function readClusterIPs(v: unknown, clusterIP: string | undefined, r: Reporter): string[] {
  const ips: string[] = [];
  for (const [i, e] of r.list(v, 'spec.clusterIPs').entries()) {
    const ip = r.ip(e, `spec.clusterIPs[${i}]`);
    if (ip) ips.push(ip);
  }
  checkFamilies(ips, clusterIP, 'spec.clusterIPs', 'spec.clusterIP', r);
  return ips;
}

function readIpFamilies(v: unknown, r: Reporter): ('IPv4' | 'IPv6')[] {
  const out: ('IPv4' | 'IPv6')[] = [];
  for (const [i, f] of r.list(v, 'spec.ipFamilies').entries()) {
    if (f !== 'IPv4' && f !== 'IPv6') {
      r.add(`spec.ipFamilies[${i}]`, `expected IPv4 or IPv6, found ${describe(f)}`);
    } else if (out.includes(f)) {
      r.add(`spec.ipFamilies[${i}]`, `expected each family once, found ${f} again`);
    } else out.push(f);
  }
  return out;
}

function readServicePorts(spec: Record<string, unknown>, r: Reporter): ServicePort[] {
  const list = r.list(spec.ports, 'spec.ports');
  // Only a headless or ExternalName Service may go without ports, as in Kubernetes.
  if (list.length === 0 && spec.clusterIP !== 'None' && spec.type !== 'ExternalName') {
    if (Array.isArray(spec.ports) || isAbsent(spec.ports))
      r.add('spec.ports', `expected at least one port, found ${describe(spec.ports)}`);
    return [];
  }
  const ports: ServicePort[] = [];
  const names = new Set<string>();
  const seen = new Set<string>();
  for (const [i, p] of list.entries()) {
    const f = `spec.ports[${i}]`;
    const sp = r.map(p, f, true);
    if (!sp) continue;
    const port = r.port(sp.port, `${f}.port`);
    const protocol = r.protocol(sp.protocol, `${f}.protocol`);
    const targetPort = r.targetPort(sp.targetPort, `${f}.targetPort`);
    const appProtocol = r.appProtocol(sp.appProtocol, `${f}.appProtocol`);
    let name: string | undefined;
    if (!isAbsent(sp.name)) {
      name = r.name(sp.name, `${f}.name`, dns1123Label);
      if (name !== undefined && names.has(name))
        r.add(`${f}.name`, `expected a name unique among the ports, found "${name}" again`);
      if (name !== undefined) names.add(name);
    } else if (list.length > 1) {
      r.add(
        `${f}.name`,
        'expected a name: a Service with several ports must name each, found nothing',
      );
    }
    if (port === undefined || protocol === undefined || targetPort === null) continue;
    const key = `${port}/${protocol}`;
    if (seen.has(key))
      r.add(`${f}.port`, `expected each port and protocol once, found ${key} again`);
    seen.add(key);
    ports.push({
      ...(name === undefined ? {} : { name }),
      port,
      targetPort: targetPort ?? port,
      protocol,
      ...(appProtocol ? { appProtocol } : {}),
    });
  }
  return ports;
}

// --- fields -------------------------------------------------------------------

interface NameRule {
  readonly what: string;
  readonly max: number;
  readonly test: (s: string) => boolean;
}

const dns1123Label: NameRule = {
  what: DNS1123_LABEL_WHAT,
  max: 63,
  test: isDns1123Label,
};
const dns1035Label: NameRule = {
  what: "a DNS-1035 label (lowercase letters, digits and '-', starting with a letter, ending with a letter or digit, at most 63 characters)",
  max: 63,
  test: (s) => /^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(s),
};
const dns1123Subdomain: NameRule = {
  what: DNS1123_SUBDOMAIN_WHAT,
  max: 253,
  test: isDns1123Subdomain,
};
const ianaSvcName: NameRule = { what: PORT_NAME_WHAT, max: 15, test: isPortName };

/** Collects errors for one object; each method returns the field's value, or undefined when wrong. */
class Reporter extends FieldReporter {
  name(v: unknown, field: string, rule: NameRule): string | undefined {
    if (typeof v !== 'string' || v === '') {
      this.add(field, `expected ${rule.what}, found ${describe(v)}`);
      return undefined;
    }
    if (v.length > rule.max || !rule.test(v)) {
      const long = v.length > rule.max ? ` (${v.length} characters)` : '';
      this.add(field, `expected ${rule.what}, found ${describe(v)}${long}`);
      return undefined;
    }
    return v;
  }

  namespace(v: unknown): string | undefined {
    return isAbsent(v) || v === '' ? 'default' : this.name(v, 'metadata.namespace', dns1123Label);
  }

  labels(v: unknown, field: string): Labels {
    return this.stringMap(v, field, true);
  }

  annotations(v: unknown, field: string): Labels {
    return this.stringMap(v, field, false);
  }

  private stringMap(v: unknown, field: string, checkValues: boolean): Labels {
    const m = this.map(v, field, false);
    if (!m) return {};
    const entries: [string, string][] = [];
    for (const [key, value] of Object.entries(m)) {
      const f = `${field}${fieldKey(key)}`;
      if (!isLabelKey(key)) {
        this.add(f, `expected ${LABEL_KEY_WHAT}, found ${describe(key)}`);
      } else if (typeof value !== 'string') {
        this.add(f, `expected a string (quote it), found ${describe(value)}`);
      } else if (checkValues && !isLabelValue(value)) {
        this.add(f, `expected ${LABEL_VALUE_WHAT}, found ${describe(value)}`);
      } else {
        entries.push([key, value]);
      }
    }
    return Object.fromEntries(entries);
  }

  port(v: unknown, field: string): number | undefined {
    if (isPortNumber(v)) return v;
    this.add(field, `expected a port number from 1 to 65535, found ${describe(v)}`);
    return undefined;
  }

  /** A number, a container port's name, undefined when absent (0 and '' count as absent, as in Kubernetes); null when wrong. */
  targetPort(v: unknown, field: string): number | string | undefined | null {
    if (isAbsent(v) || v === 0 || v === '') return undefined;
    if (isPortNumber(v)) return v;
    if (typeof v === 'string' && v.length <= ianaSvcName.max && ianaSvcName.test(v)) return v;
    this.add(
      field,
      `expected a port number from 1 to 65535 or ${ianaSvcName.what}, found ${describe(v)}`,
    );
    return null;
  }

  /** spec.ports[].appProtocol: an IANA service name or a domain-prefixed name, as Kubernetes checks it. */
  appProtocol(v: unknown, field: string): string | undefined {
    if (isAbsent(v)) return undefined;
    if (typeof v === 'string' && isLabelKey(v)) return v;
    this.add(
      field,
      `expected an application protocol such as http, grpc or kubernetes.io/h2c (a name, optionally prefixed by a domain and /), found ${describe(v)}`,
    );
    return undefined;
  }

  protocol(v: unknown, field: string): Protocol | undefined {
    if (isAbsent(v)) return 'TCP';
    if (v === 'TCP' || v === 'UDP' || v === 'SCTP') return v;
    this.add(field, `expected TCP, UDP or SCTP, found ${describe(v)}`);
    return undefined;
  }

  /** An IP address; absent or '' (not yet assigned) is undefined. */
  ip(v: unknown, field: string): string | undefined {
    if (isAbsent(v) || v === '') return undefined;
    // IPv6 in its one canonical spelling (RFC 5952), as the kernel reports addresses.
    if (typeof v === 'string' && isIP(v) === 6)
      return new URL(`http://[${v}]/`).hostname.slice(1, -1);
    if (typeof v === 'string' && isIP(v) === 4) return v;
    this.add(field, `expected an IPv4 or IPv6 address, found ${describe(v)}`);
    return undefined;
  }
}
