// One AuthorizationPolicy document → the policy, or a precise error for everything
// Istio's validation would reject, plus what weft cannot enforce yet (so that nothing
// is silently widened or narrowed). Pure: no I/O.

import {
  type AuthorizationPolicy,
  type AuthzAction,
  type AuthzApiVersion,
  type AuthzCondition,
  type AuthzOperation,
  type AuthzRule,
  type AuthzSource,
  authzApiVersions,
  type Labels,
  type ObjectError,
  toCidr,
} from '../../state/index.ts';
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
  LABEL_KEY_WHAT,
  LABEL_VALUE_WHAT,
} from '../fields.ts';
import { Reporter as FieldReporter } from '../report.ts';

export interface AuthzParseResult {
  /**
   * The policy; when weft supports the fields but cannot enforce them (`errors` all say
   * `failsClosed`), the fail-closed stand-in that denies what the policy selects.
   */
  readonly policy?: AuthorizationPolicy;
  readonly errors: ObjectError[];
  /**
   * For a policy rejected as invalid: the fail-closed stand-in to enforce when there is no
   * last good version under its name. Absent when the object names no namespace and name.
   */
  readonly fallback?: AuthorizationPolicy;
}

/** Whether a parsed YAML document is an AuthorizationPolicy of an accepted API version. */
export function isAuthorizationPolicy(doc: unknown): boolean {
  return (
    isMap(doc) &&
    doc.kind === 'AuthorizationPolicy' &&
    (authzApiVersions as readonly unknown[]).includes(doc.apiVersion)
  );
}

/**
 * `index` is the document's 0-based position in its file; errors of an object without a
 * usable name say `document <index + 1>`, as the manifest parser does.
 */
export function parseAuthorizationPolicy(
  file: string,
  doc: unknown,
  index: number,
): AuthzParseResult {
  const anonymous = new Reporter(file, `document ${index + 1}`);
  if (!isMap(doc)) {
    anonymous.add('', `expected an AuthorizationPolicy (a map), found ${describe(doc)}`);
    return { errors: anonymous.errors };
  }
  const id = identify(doc.metadata);
  const r = id ? new Reporter(file, `AuthorizationPolicy ${id}`) : anonymous;
  if (doc.kind !== 'AuthorizationPolicy')
    r.add('kind', `expected AuthorizationPolicy, found ${describe(doc.kind)}`);
  const apiVersion = readApiVersion(doc.apiVersion, r);
  const meta = r.map(doc.metadata, 'metadata', true);
  const name = meta && readName(meta.name, r);
  const namespace = meta && readNamespace(meta.namespace, r);
  // Istio reads a missing spec as {}: an ALLOW policy without rules, which allows nothing.
  const spec = r.map(doc.spec, 'spec', false);
  const policy = spec && readSpec(spec, r);
  if (r.errors.length === 0 && apiVersion && name && namespace && policy)
    return { policy: { namespace, name, apiVersion, ...policy }, errors: [] };
  // A name Kubernetes would refuse still names the object (as errors and merging name it).
  const named =
    name ?? (meta && typeof meta.name === 'string' && meta.name !== '' ? meta.name : '');
  if (!apiVersion || !named || !namespace) return { errors: r.errors };
  const stand = failClosed(namespace, named, apiVersion, spec, r);
  // Every error a field weft does not support: the policy is in force, failing closed.
  if (r.errors.length === r.unsupported)
    return { policy: stand, errors: r.errors.map((e) => ({ ...e, failsClosed: true })) };
  return { errors: r.errors, fallback: stand };
}

/**
 * What a policy weft cannot enforce as written stands for: an ALLOW or DENY (or CUSTOM)
 * policy denies all traffic to the workloads it selects; where the selection itself cannot
 * be read (a bad selector, targetRef), to every workload of its namespace.
 */
function failClosed(
  namespace: string,
  name: string,
  apiVersion: AuthzApiVersion,
  spec: Record<string, unknown> | undefined,
  r: Reporter,
): AuthorizationPolicy {
  const quiet = new Reporter('', '');
  const targeted = spec && (!isAbsent(spec.targetRef) || !isAbsent(spec.targetRefs));
  const selector = spec && !targeted ? readSelector(spec.selector, quiet) : undefined;
  // AUDIT never changes a verdict: its stand-in audits nothing rather than denying.
  const action = spec?.action === 'AUDIT' ? 'AUDIT' : 'DENY';
  const fields = [...new Set(r.errors.map((e) => e.field || '(document)'))];
  return {
    namespace,
    name,
    apiVersion,
    ...(selector && quiet.errors.length === 0 ? { selector } : {}),
    action,
    rules: undefined,
    failClosed: `weft cannot enforce ${fields.join(', ')}`,
  };
}

function identify(metadata: unknown): string | undefined {
  if (!isMap(metadata)) return undefined;
  const { name, namespace } = metadata;
  if (typeof name !== 'string' || name === '') return undefined;
  if (isAbsent(namespace) || namespace === '') return `default/${name}`;
  return typeof namespace === 'string' ? `${namespace}/${name}` : undefined;
}

function readApiVersion(v: unknown, r: Reporter): AuthzApiVersion | undefined {
  const found = authzApiVersions.find((a) => a === v);
  if (!found)
    r.add(
      'apiVersion',
      `expected security.istio.io/v1, security.istio.io/v1beta1 or security.weft.dev/v1alpha1, found ${describe(v)}`,
    );
  return found;
}

function readName(v: unknown, r: Reporter): string | undefined {
  if (typeof v === 'string' && isDns1123Subdomain(v)) return v;
  r.add('metadata.name', `expected ${DNS1123_SUBDOMAIN_WHAT}, found ${describe(v)}`);
  return undefined;
}

function readNamespace(v: unknown, r: Reporter): string | undefined {
  if (isAbsent(v) || v === '') return 'default';
  if (typeof v === 'string' && isDns1123Label(v)) return v;
  r.add('metadata.namespace', `expected ${DNS1123_LABEL_WHAT}, found ${describe(v)}`);
  return undefined;
}

// --- spec ---------------------------------------------------------------------

type SpecPart = Pick<AuthorizationPolicy, 'selector' | 'action' | 'rules'>;

const specFields = ['selector', 'action', 'rules', 'provider', 'targetRef', 'targetRefs'];

function readSpec(spec: Record<string, unknown>, r: Reporter): SpecPart | undefined {
  r.known(spec, 'spec', specFields);
  for (const f of ['targetRef', 'targetRefs'])
    if (!isAbsent(spec[f]))
      r.unsupport(
        `spec.${f}`,
        `expected no ${f} (not supported: weft selects workloads with spec.selector), found ${describe(spec[f])}`,
      );
  const selector = readSelector(spec.selector, r);
  const action = readAction(spec.action, r);
  if (!isAbsent(spec.provider) && action !== undefined)
    r.add(
      'spec.provider',
      `expected no provider (it goes with action CUSTOM), found ${describe(spec.provider)}`,
    );
  const rules = isAbsent(spec.rules) ? undefined : readRules(spec.rules, r);
  if (selector === null || action === undefined || rules === null) return undefined;
  return { ...(selector ? { selector } : {}), action, rules };
}

/** undefined: absent or without labels (the whole namespace); null: wrong. */
function readSelector(v: unknown, r: Reporter): { matchLabels: Labels } | undefined | null {
  if (isAbsent(v)) return undefined;
  const sel = r.map(v, 'spec.selector', true);
  if (!sel) return null;
  r.known(sel, 'spec.selector', ['matchLabels']);
  const m = r.map(sel.matchLabels, 'spec.selector.matchLabels', false);
  if (!m) return null;
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(m)) {
    const f = `spec.selector.matchLabels${fieldKey(key)}`;
    if (!isLabelKey(key)) r.add(f, `expected ${LABEL_KEY_WHAT}, found ${describe(key)}`);
    else if (typeof value !== 'string')
      r.add(f, `expected a string (quote it), found ${describe(value)}`);
    else if (!isLabelValue(value))
      r.add(f, `expected ${LABEL_VALUE_WHAT}, found ${describe(value)}`);
    else labels[key] = value;
  }
  return Object.keys(labels).length > 0 ? { matchLabels: labels } : undefined;
}

function readAction(v: unknown, r: Reporter): AuthzAction | undefined {
  if (isAbsent(v)) return 'ALLOW';
  if (v === 'ALLOW' || v === 'DENY' || v === 'AUDIT') return v;
  if (v === 'CUSTOM')
    r.unsupport(
      'spec.action',
      'expected ALLOW, DENY or AUDIT, found CUSTOM: external authorizers are not supported',
    );
  else r.add('spec.action', `expected ALLOW, DENY or AUDIT, found ${describe(v)}`);
  return undefined;
}

function readRules(v: unknown, r: Reporter): AuthzRule[] | null {
  if (!Array.isArray(v)) {
    r.add('spec.rules', `expected a list of rules, found ${describe(v)}`);
    return null;
  }
  const rules: AuthzRule[] = [];
  for (const [i, raw] of v.entries()) {
    const f = `spec.rules[${i}]`;
    const m = r.map(raw, f, true);
    if (!m) continue;
    r.known(m, f, ['from', 'to', 'when']);
    const from = readEntries(m.from, `${f}.from`, 'source', readSource, r);
    const to = readEntries(m.to, `${f}.to`, 'operation', readOperation, r);
    const when = readConditions(m.when, `${f}.when`, r);
    rules.push({ ...(from ? { from } : {}), ...(to ? { to } : {}), ...(when ? { when } : {}) });
  }
  return rules;
}

/** `from: [{source: ...}]` or `to: [{operation: ...}]`; Istio refuses an empty list. */
function readEntries<T>(
  v: unknown,
  field: string,
  inner: string,
  read: (m: Record<string, unknown>, field: string, r: Reporter) => T,
  r: Reporter,
): T[] | undefined {
  if (isAbsent(v)) return undefined;
  if (Array.isArray(v) && v.length === 0) {
    r.add(
      field,
      `expected at least one ${inner} (leave the field out to match any), found an empty list`,
    );
    return undefined;
  }
  const out: T[] = [];
  for (const [i, raw] of r.list(v, field).entries()) {
    const ef = `${field}[${i}]`;
    const entry = r.map(raw, ef, true);
    if (!entry) continue;
    r.known(entry, ef, [inner]);
    const m = r.map(entry[inner], `${ef}.${inner}`, true);
    if (m) out.push(read(m, `${ef}.${inner}`, r));
  }
  return out;
}

const sourceFields = [
  'principals',
  'notPrincipals',
  'namespaces',
  'notNamespaces',
  'ipBlocks',
  'notIpBlocks',
];
const unsupportedSource: Record<string, string> = {
  requestPrincipals: 'request principals need JWT authentication',
  notRequestPrincipals: 'request principals need JWT authentication',
  remoteIpBlocks: 'remote IPs come from X-Forwarded-For or the PROXY protocol',
  notRemoteIpBlocks: 'remote IPs come from X-Forwarded-For or the PROXY protocol',
  serviceAccounts: 'write principals (<trust-domain>/ns/<ns>/sa/<sa>) instead',
  notServiceAccounts: 'write notPrincipals (<trust-domain>/ns/<ns>/sa/<sa>) instead',
};

function readSource(m: Record<string, unknown>, field: string, r: Reporter): AuthzSource {
  r.known(m, field, [...sourceFields, ...Object.keys(unsupportedSource)]);
  for (const [k, why] of Object.entries(unsupportedSource))
    if (!unset(m[k]))
      r.unsupport(
        `${field}.${k}`,
        `expected no ${k} (not supported: ${why}), found ${describe(m[k])}`,
      );
  const principal = (s: string) =>
    s.startsWith('spiffe://')
      ? 'a principal without spiffe:// (<trust-domain>/ns/<ns>/sa/<sa>)'
      : undefined;
  const ip = (s: string) =>
    toCidr(s) ? undefined : 'an IP address or CIDR, such as 10.0.0.1 or 10.0.0.0/16';
  const src: AuthzSource = {
    principals: r.strings(m.principals, `${field}.principals`, principal),
    notPrincipals: r.strings(m.notPrincipals, `${field}.notPrincipals`, principal),
    namespaces: r.strings(m.namespaces, `${field}.namespaces`),
    notNamespaces: r.strings(m.notNamespaces, `${field}.notNamespaces`),
    ipBlocks: r.strings(m.ipBlocks, `${field}.ipBlocks`, ip),
    notIpBlocks: r.strings(m.notIpBlocks, `${field}.notIpBlocks`, ip),
  };
  if (Object.values(m).every(unset))
    r.add(field, 'expected at least one field, such as principals or namespaces, found none');
  return src;
}

const operationFields = [
  'ports',
  'notPorts',
  'methods',
  'notMethods',
  'paths',
  'notPaths',
  'hosts',
  'notHosts',
];

function readOperation(m: Record<string, unknown>, field: string, r: Reporter): AuthzOperation {
  r.known(m, field, operationFields);
  const path = (s: string) =>
    s.includes('{*}') || s.includes('{**}')
      ? 'a path without templates ({*} and {**} are not supported)'
      : undefined;
  const op: AuthzOperation = {
    ports: r.strings(m.ports, `${field}.ports`, portProblem),
    notPorts: r.strings(m.notPorts, `${field}.notPorts`, portProblem),
    methods: r.strings(m.methods, `${field}.methods`),
    notMethods: r.strings(m.notMethods, `${field}.notMethods`),
    paths: r.strings(m.paths, `${field}.paths`, path, true),
    notPaths: r.strings(m.notPaths, `${field}.notPaths`, path, true),
    hosts: r.strings(m.hosts, `${field}.hosts`),
    notHosts: r.strings(m.notHosts, `${field}.notHosts`),
  };
  if (Object.values(m).every(unset))
    r.add(field, 'expected at least one field, such as ports or paths, found none');
  return op;
}

function portProblem(s: string): string | undefined {
  return /^[0-9]{1,5}$/.test(s) && Number(s) >= 1 && Number(s) <= 65535
    ? undefined
    : 'a port number from 1 to 65535';
}

const conditionKeys =
  'source.ip, source.namespace, source.principal, destination.port or request.headers[<name>]';

function readConditions(v: unknown, field: string, r: Reporter): AuthzCondition[] | undefined {
  if (isAbsent(v)) return undefined;
  const out: AuthzCondition[] = [];
  for (const [i, raw] of r.list(v, field).entries()) {
    const f = `${field}[${i}]`;
    const m = r.map(raw, f, true);
    if (!m) continue;
    r.known(m, f, ['key', 'values', 'notValues']);
    const key = m.key;
    const check = typeof key === 'string' ? valueCheck(key) : undefined;
    if (typeof key !== 'string' || key === '') {
      r.add(`${f}.key`, `expected ${conditionKeys}, found ${describe(key)}`);
    } else if (!check) {
      const istio = unsupportedKey(key);
      const report = istio.includes('Istio') ? r.unsupport : r.add;
      report.call(r, `${f}.key`, `expected ${conditionKeys}, found ${describe(key)}${istio}`);
    }
    const values = r.strings(m.values, `${f}.values`, check);
    const notValues = r.strings(m.notValues, `${f}.notValues`, check);
    if (unset(m.values) && unset(m.notValues))
      r.add(
        f,
        `expected values or notValues for ${typeof key === 'string' ? key : 'the key'}, found neither`,
      );
    if (typeof key === 'string') out.push({ key, values, notValues });
  }
  return out;
}

type Check = (s: string) => string | undefined;
const anyString: Check = () => undefined;
const ipCheck: Check = (s) =>
  toCidr(s) ? undefined : 'an IP address or CIDR, such as 10.0.0.1 or 10.0.0.0/16';

/** The check for a supported key's values; undefined for a key weft does not know. */
function valueCheck(key: string): Check | undefined {
  if (key === 'source.ip') return ipCheck;
  if (key === 'source.namespace' || key === 'source.principal') return anyString;
  if (key === 'destination.port') return portProblem;
  if (/^request\.headers\[[^\][]+\]$/.test(key)) return anyString;
  return undefined;
}

function unsupportedKey(key: string): string {
  if (key.startsWith('request.headers')) return ' (a header key names the header in brackets)';
  const istio =
    /^(remote\.ip|destination\.ip|connection\.sni|source\.serviceAccount|request\.auth\.|experimental\.)/;
  return istio.test(key) ? ' (an Istio attribute weft does not support)' : '';
}

// --- helpers ------------------------------------------------------------------

class Reporter extends FieldReporter {
  /** How many of the errors are fields Istio accepts and weft does not enforce. */
  unsupported = 0;

  /** A field Istio accepts that weft cannot enforce: the policy fails closed. */
  unsupport(field: string, message: string): void {
    this.add(field, message);
    this.unsupported++;
  }

  /** Unknown fields are errors: a misspelt field would otherwise widen or narrow a policy unseen. */
  known(m: Record<string, unknown>, field: string, names: readonly string[]): void {
    for (const k of Object.keys(m))
      if (!names.includes(k))
        this.add(
          `${field}${fieldKey(k)}`,
          `expected one of ${names.join(', ')}, found the unknown field ${JSON.stringify(k)}`,
        );
  }

  /** A list of non-empty strings, each passing `problem` (which says what was expected). */
  strings(v: unknown, field: string, problem?: Check, unsupported = false): string[] {
    const out: string[] = [];
    for (const [i, s] of this.list(v, field).entries()) {
      const f = `${field}[${i}]`;
      if (typeof s !== 'string') {
        const hint = typeof s === 'number' ? ' (quote it)' : '';
        this.add(f, `expected a string${hint}, found ${describe(s)}`);
      } else if (s === '') {
        this.add(f, 'expected a non-empty string, found the string ""');
      } else {
        const p = problem?.(s);
        if (p && unsupported) this.unsupport(f, `expected ${p}, found ${describe(s)}`);
        else if (p) this.add(f, `expected ${p}, found ${describe(s)}`);
        else out.push(s);
      }
    }
    return out;
  }
}

/** Absent, null or an empty list: protobuf cannot tell these apart, so neither does Istio. */
function unset(v: unknown): boolean {
  return isAbsent(v) || (Array.isArray(v) && v.length === 0);
}
