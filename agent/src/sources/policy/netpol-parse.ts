// One YAML-decoded NetworkPolicy document → a NetworkPolicy with Kubernetes'
// defaults applied, or an error for every field Kubernetes would reject, and for
// SCTP ports, which Kubernetes accepts but weft cannot enforce. Unknown
// fields are rejected too (as kubectl's strict field validation does): a misspelt
// `except` or `matchLabels` would silently widen what a policy allows. Pure.

import {
  cidrProblem,
  type IPBlock,
  isSubnet,
  type NetworkPolicy,
  type ObjectError,
  type Peer,
  type PolicyPort,
  type PolicyRule,
  type PolicyType,
  type Protocol,
  parseCidr,
} from '../../state/index.ts';
import {
  DNS1123_LABEL_WHAT,
  DNS1123_SUBDOMAIN_WHAT,
  describe,
  fieldKey,
  isAbsent,
  isDns1123Label,
  isDns1123Subdomain,
  isMap,
  isPortName,
  isPortNumber,
  PORT_NAME_WHAT,
} from '../fields.ts';
import type { ReportError } from '../report.ts';
import { parseLabelSelector } from './selector-parse.ts';

export const NETPOL_API_VERSION = 'networking.k8s.io/v1';

export interface NetpolParseResult {
  /** Present only when nothing was reported. */
  readonly policy?: NetworkPolicy;
  readonly errors: ObjectError[];
  /**
   * With errors, when the document names a policy: what stands in for it while it has no
   * last good version, so that a policy weft cannot enforce as written isolates what it
   * selects instead of leaving it open.
   */
  readonly fallback?: NetworkPolicy;
}

/**
 * Reads one document of kind NetworkPolicy. `index` counts documents from 0; an object
 * without a usable name is reported as `document index+1`, as the manifest parser does.
 */
export function parseNetworkPolicy(file: string, doc: unknown, index: number): NetpolParseResult {
  const errors: ObjectError[] = [];
  const object = identify(doc) ?? `document ${index + 1}`;
  const err: ReportError = (field, message) => errors.push({ file, object, field, message });
  if (!isMap(doc)) {
    err(
      '',
      `expected a NetworkPolicy (a map with apiVersion, kind and metadata), found ${describe(doc)}`,
    );
    return { errors };
  }
  if (doc.apiVersion !== NETPOL_API_VERSION)
    err('apiVersion', `expected ${NETPOL_API_VERSION}, found ${describe(doc.apiVersion)}`);
  if (doc.kind !== 'NetworkPolicy')
    err('kind', `expected NetworkPolicy, found ${describe(doc.kind)}`);
  unknown(doc, '', ['apiVersion', 'kind', 'metadata', 'spec', 'status'], err);
  const meta = readMetadata(doc.metadata, err);
  const spec = readSpec(doc.spec, err);
  if (errors.length > 0 || !meta || !spec) {
    const fallback = standIn(doc, errors[0]!);
    return fallback ? { errors, fallback } : { errors };
  }
  return { policy: { ...meta, ...spec }, errors };
}

/**
 * The fail-closed stand-in of a rejected policy: its namespace and name, the pods it
 * selects (the whole namespace when the selector cannot be read), its policy types as
 * Kubernetes defaults them (both when they cannot be read), and no rules.
 */
function standIn(doc: unknown, first: ObjectError): NetworkPolicy | undefined {
  if (!isMap(doc) || !isMap(doc.metadata)) return undefined;
  const { name, namespace } = doc.metadata;
  if (typeof name !== 'string' || name === '') return undefined;
  if (!isAbsent(namespace) && typeof namespace !== 'string') return undefined;
  const spec = isMap(doc.spec) ? doc.spec : {};
  let readable = true;
  const quiet: ReportError = () => {
    readable = false;
  };
  const selector = parseLabelSelector(spec.podSelector, 'spec.podSelector', quiet);
  const podSelector = readable && selector ? selector : {};
  readable = true;
  const types = readPolicyTypes(spec.policyTypes, quiet);
  const egressWritten = Array.isArray(spec.egress) && spec.egress.length > 0;
  const policyTypes: PolicyType[] = !readable
    ? ['Ingress', 'Egress']
    : types.length > 0
      ? types
      : egressWritten
        ? ['Ingress', 'Egress']
        : ['Ingress'];
  return {
    namespace: typeof namespace === 'string' && namespace !== '' ? namespace : 'default',
    name,
    podSelector,
    policyTypes,
    ingress: [],
    egress: [],
    failClosed: `${first.field ? `${first.field}: ` : ''}${first.message}`,
  };
}

/** `NetworkPolicy ns/name` when the metadata names the object at all (even invalidly). */
function identify(doc: unknown): string | undefined {
  if (!isMap(doc) || !isMap(doc.metadata)) return undefined;
  const { name, namespace } = doc.metadata;
  if (typeof name !== 'string' || name === '') return undefined;
  if (isAbsent(namespace) || namespace === '') return `NetworkPolicy default/${name}`;
  return typeof namespace === 'string' ? `NetworkPolicy ${namespace}/${name}` : undefined;
}

function readMetadata(raw: unknown, err: ReportError) {
  if (!isMap(raw)) {
    err('metadata', `expected a map with name and namespace, found ${describe(raw)}`);
    return undefined;
  }
  const { name, namespace } = raw;
  let ok = true;
  if (typeof name !== 'string' || !isDns1123Subdomain(name)) {
    err('metadata.name', `expected ${DNS1123_SUBDOMAIN_WHAT}, found ${describe(name)}`);
    ok = false;
  }
  const ns = isAbsent(namespace) || namespace === '' ? 'default' : namespace;
  if (typeof ns !== 'string' || !isDns1123Label(ns)) {
    err('metadata.namespace', `expected ${DNS1123_LABEL_WHAT}, found ${describe(ns)}`);
    ok = false;
  }
  return ok ? { namespace: ns as string, name: name as string } : undefined;
}

type Spec = Omit<NetworkPolicy, 'namespace' | 'name'>;

function readSpec(raw: unknown, err: ReportError): Spec | undefined {
  // An absent spec is an empty one: every pod of the namespace, ingress denied.
  const spec = isAbsent(raw) ? {} : raw;
  if (!isMap(spec)) {
    err('spec', `expected a map, found ${describe(raw)}`);
    return undefined;
  }
  unknown(spec, 'spec', ['podSelector', 'policyTypes', 'ingress', 'egress'], err);
  const podSelector = parseLabelSelector(spec.podSelector, 'spec.podSelector', err) ?? {};
  const types = readPolicyTypes(spec.policyTypes, err);
  const ingress = readRules(spec.ingress, 'spec.ingress', 'from', err);
  const egress = readRules(spec.egress, 'spec.egress', 'to', err);
  // Kubernetes' defaulting: Egress only when spec.egress has rules (an empty list does not count).
  const policyTypes: PolicyType[] =
    types.length > 0 ? types : egress.length > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
  return { podSelector, policyTypes, ingress, egress };
}

function readPolicyTypes(raw: unknown, err: ReportError): PolicyType[] {
  const list = readList(raw, 'spec.policyTypes', err);
  if (list.length > 2) {
    err(
      'spec.policyTypes',
      `expected at most two policyTypes (Ingress, Egress), found ${list.length}`,
    );
    return [];
  }
  const out: PolicyType[] = [];
  for (const [i, t] of list.entries()) {
    if (t === 'Ingress' || t === 'Egress') out.push(t);
    else err(`spec.policyTypes[${i}]`, `expected Ingress or Egress, found ${describe(t)}`);
  }
  return out;
}

function readRules(raw: unknown, path: string, peersKey: 'from' | 'to', err: ReportError) {
  const rules: PolicyRule[] = [];
  for (const [i, item] of readList(raw, path, err).entries()) {
    const p = `${path}[${i}]`;
    // A null rule decodes to an empty one in Kubernetes: it allows everything.
    const rule = isAbsent(item) ? {} : item;
    if (!isMap(rule)) {
      err(p, `expected a rule (a map with ${peersKey} and ports), found ${describe(item)}`);
      continue;
    }
    unknown(rule, p, [peersKey, 'ports'], err);
    const peers: Peer[] = [];
    for (const [j, x] of readList(rule[peersKey], `${p}.${peersKey}`, err).entries()) {
      const peer = readPeer(x, `${p}.${peersKey}[${j}]`, err);
      if (peer) peers.push(peer);
    }
    const ports: PolicyPort[] = [];
    for (const [j, x] of readList(rule.ports, `${p}.ports`, err).entries()) {
      const port = readPort(x, `${p}.ports[${j}]`, err);
      if (port) ports.push(port);
    }
    rules.push({ peers, ports });
  }
  return rules;
}

const peerKinds = ['podSelector', 'namespaceSelector', 'ipBlock'] as const;

function readPeer(raw: unknown, path: string, err: ReportError): Peer | undefined {
  const m = isAbsent(raw) ? {} : raw;
  if (!isMap(m)) {
    err(
      path,
      `expected a peer (a map with podSelector, namespaceSelector or ipBlock), found ${describe(raw)}`,
    );
    return undefined;
  }
  unknown(m, path, peerKinds, err);
  const set = peerKinds.filter((k) => !isAbsent(m[k]));
  if (set.length === 0) {
    err(path, 'expected podSelector, namespaceSelector or ipBlock, found none of them');
    return undefined;
  }
  if (set.includes('ipBlock') && set.length > 1) {
    const others = set.filter((k) => k !== 'ipBlock').join(' and ');
    err(path, `expected ipBlock alone, found it combined with ${others}`);
  }
  if (!isAbsent(m.ipBlock)) {
    const ipBlock = readIPBlock(m.ipBlock, `${path}.ipBlock`, err);
    for (const k of ['podSelector', 'namespaceSelector'] as const)
      parseLabelSelector(m[k], `${path}.${k}`, err);
    return ipBlock && { ipBlock };
  }
  const podSelector = parseLabelSelector(m.podSelector, `${path}.podSelector`, err);
  const namespaceSelector = parseLabelSelector(
    m.namespaceSelector,
    `${path}.namespaceSelector`,
    err,
  );
  return {
    ...(podSelector ? { podSelector } : {}),
    ...(namespaceSelector ? { namespaceSelector } : {}),
  };
}

const cidrWhat = 'a CIDR such as 10.0.0.0/8 or 2001:db8::/32';

function readIPBlock(raw: unknown, path: string, err: ReportError): IPBlock | undefined {
  if (!isMap(raw)) {
    err(path, `expected a map with cidr and except, found ${describe(raw)}`);
    return undefined;
  }
  unknown(raw, path, ['cidr', 'except'], err);
  const { cidr } = raw;
  let outer: ReturnType<typeof parseCidr>;
  if (typeof cidr !== 'string' || cidr === '') {
    err(`${path}.cidr`, `expected ${cidrWhat}, found ${describe(cidr)}`);
  } else {
    outer = parseCidr(cidr);
    if (!outer) err(`${path}.cidr`, `${cidrProblem(cidr)}, found ${describe(cidr)}`);
  }
  const except: string[] = [];
  for (const [j, e] of readList(raw.except, `${path}.except`, err).entries()) {
    const f = `${path}.except[${j}]`;
    const inner = typeof e === 'string' ? parseCidr(e) : undefined;
    if (typeof e !== 'string' || e === '') err(f, `expected ${cidrWhat}, found ${describe(e)}`);
    else if (!inner) err(f, `${cidrProblem(e)}, found ${describe(e)}`);
    else if (outer && !(isSubnet(inner, outer) && inner.prefix > outer.prefix))
      err(
        f,
        `expected a block strictly inside cidr ${cidr} (within it and smaller), found ${describe(e)}`,
      );
    else except.push(e);
  }
  return typeof cidr === 'string' && outer ? { cidr, except } : undefined;
}

function readPort(raw: unknown, path: string, err: ReportError): PolicyPort | undefined {
  // A null entry decodes to an empty one: every port of TCP.
  const m = isAbsent(raw) ? {} : raw;
  if (!isMap(m)) {
    err(path, `expected a map with protocol, port and endPort, found ${describe(raw)}`);
    return undefined;
  }
  unknown(m, path, ['protocol', 'port', 'endPort'], err);
  const { protocol, port, endPort } = m;
  let ok = true;
  const bad = (field: string, message: string) => {
    err(`${path}.${field}`, message);
    ok = false;
  };
  // SCTP is valid Kubernetes, but weft's hooks police TCP and UDP only: a rule
  // for it would be parsed and never enforced, so the policy is refused instead.
  if (protocol === 'SCTP')
    bad(
      'protocol',
      'expected TCP or UDP, found SCTP: weft enforces NetworkPolicy for TCP and UDP only, and refuses a policy it would not enforce',
    );
  else if (!isAbsent(protocol) && protocol !== 'TCP' && protocol !== 'UDP')
    bad(
      'protocol',
      `expected TCP or UDP (SCTP is not enforced by weft), found ${describe(protocol)}`,
    );
  if (!isAbsent(port) && !isPortNumber(port) && !(typeof port === 'string' && isPortName(port)))
    bad(
      'port',
      `expected a port number from 1 to 65535 or ${PORT_NAME_WHAT}, found ${describe(port)}`,
    );
  if (!isAbsent(endPort)) {
    if (!isPortNumber(endPort))
      bad('endPort', `expected a port number from 1 to 65535, found ${describe(endPort)}`);
    else if (isAbsent(port))
      bad('endPort', 'expected endPort only with a numeric port, found it without port');
    else if (typeof port === 'string')
      bad(
        'endPort',
        `expected endPort only with a numeric port, found it with the named port ${JSON.stringify(port)}`,
      );
    else if (isPortNumber(port) && endPort < port)
      bad('endPort', `expected a port of at least port (${port}), found ${describe(endPort)}`);
  }
  if (!ok) return undefined;
  return {
    protocol: isAbsent(protocol) ? 'TCP' : (protocol as Protocol),
    ...(isAbsent(port) ? {} : { port: port as number | string }),
    ...(isAbsent(endPort) ? {} : { endPort: endPort as number }),
  };
}

// --- helpers ----------------------------------------------------------------------

function unknown(
  m: Record<string, unknown>,
  path: string,
  known: readonly string[],
  err: ReportError,
) {
  for (const k of Object.keys(m))
    if (!known.includes(k)) {
      const f = path ? `${path}${fieldKey(k)}` : fieldKey(k).replace(/^\./, '');
      err(f, `expected only ${known.join(', ')}, found the field ${JSON.stringify(k)}`);
    }
}

/** A list; absent (or null) is empty. */
function readList(v: unknown, path: string, err: ReportError): unknown[] {
  if (Array.isArray(v)) return v;
  if (!isAbsent(v)) err(path, `expected a list, found ${describe(v)}`);
  return [];
}
