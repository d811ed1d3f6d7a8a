// One HTTPRoute or GRPCRoute document (gateway.networking.k8s.io) → the route bound to
// Services with the spec's defaults filled in, or an error for everything the Gateway
// API's validation refuses and everything weft cannot honour (a Gateway parent, an
// extension filter, session persistence, a backend that is not a Service), each naming
// its field. A route with any error is refused whole: never half applied. Pure.
import type {
  GrpcMethodMatch,
  GrpcRouteMatch,
  HeaderMatch,
  HttpRouteMatch,
  ObjectError,
  PathMatch,
  Route,
  RouteKind,
  RouteRetry,
  RouteRule,
  RouteTimeouts,
  ServiceParentRef,
} from '../../state/index.ts';
import { describe, isAbsent, isMap } from '../fields.ts';
import {
  GRPC_FILTERS,
  GRPC_RULE_FILTERS,
  HTTP_FILTERS,
  HTTP_RULE_FILTERS,
  readBackendRefs,
  readFilters,
} from './filters.ts';
import { createdAt, GATEWAY_GROUP, LIMITS, RouteReporter } from './reader.ts';

export const ROUTE_API_VERSIONS: Readonly<Record<RouteKind, readonly string[]>> = {
  HTTPRoute: [`${GATEWAY_GROUP}/v1`, `${GATEWAY_GROUP}/v1beta1`],
  GRPCRoute: [`${GATEWAY_GROUP}/v1`],
};

export interface RouteParseResult {
  /** Present only when nothing was reported. */
  readonly route?: Route;
  readonly errors: ObjectError[];
  /** `Kind namespace/name` when the document names one (for keeping its last good version). */
  readonly id?: string;
}

/** A route kind of the Gateway API group (any version: a wrong version is an error of ours). */
export function isRouteDocument(doc: Record<string, unknown>): doc is Record<string, unknown> & {
  kind: RouteKind;
} {
  return (
    (doc.kind === 'HTTPRoute' || doc.kind === 'GRPCRoute') &&
    typeof doc.apiVersion === 'string' &&
    doc.apiVersion.startsWith(`${GATEWAY_GROUP}/`)
  );
}

/** `index` is the document's 0-based position in its file, for objects without a name. */
export function parseRoute(
  file: string,
  doc: Record<string, unknown>,
  index: number,
): RouteParseResult {
  const kind: RouteKind = doc.kind === 'GRPCRoute' ? 'GRPCRoute' : 'HTTPRoute';
  const ident = identify(doc.metadata);
  const id = ident ? `${kind} ${ident}` : undefined;
  const r = new RouteReporter(file, id ?? `document ${index + 1}`);
  const versions = ROUTE_API_VERSIONS[kind];
  if (!versions.includes(doc.apiVersion as string))
    r.add(
      'apiVersion',
      `expected ${versions.join(' or ')} for a ${kind}, found ${describe(doc.apiVersion)}`,
    );
  const meta = r.map(doc.metadata, 'metadata', true);
  const name = meta ? r.objectName(meta.name, 'metadata.name') : undefined;
  const namespace =
    meta && (isAbsent(meta.namespace) || meta.namespace === '')
      ? 'default'
      : meta
        ? r.namespaceName(meta.namespace, 'metadata.namespace')
        : undefined;
  const spec = r.map(doc.spec, 'spec', true);
  if (!spec || namespace === undefined) return { errors: r.errors, ...(id ? { id } : {}) };
  r.known(spec, 'spec', ['parentRefs', 'hostnames', 'rules']);
  const parentRefs = readParentRefs(spec.parentRefs, namespace, r);
  const hostnames: string[] = [];
  for (const [i, h] of r.bounded(spec.hostnames, 'spec.hostnames', LIMITS.hostnames).entries()) {
    const host = r.hostname(h, `spec.hostnames[${i}]`, true);
    if (host) hostnames.push(host);
  }
  const generation = typeof meta?.generation === 'number' ? meta.generation : 0;
  const base = {
    namespace,
    name: name ?? '',
    created: createdAt(meta?.creationTimestamp),
    generation,
    parentRefs,
    hostnames,
  };
  const route: Route =
    kind === 'HTTPRoute'
      ? { kind, ...base, rules: readRules(spec.rules, namespace, r, readHttpRule, defaultHttpRule) }
      : {
          kind,
          ...base,
          rules: readRules(spec.rules, namespace, r, readGrpcRule, defaultGrpcRule),
        };
  const total = route.rules.reduce((n, rule) => n + rule.matches.length, 0);
  if (total > 128)
    r.add('spec.rules', `expected at most 128 matches across all rules, found ${total}`);
  if (r.errors.length > 0 || !name) return { errors: r.errors, ...(id ? { id } : {}) };
  return { route, errors: [], id: id! };
}

function identify(metadata: unknown): string | undefined {
  if (!isMap(metadata)) return undefined;
  const { name, namespace } = metadata;
  if (typeof name !== 'string' || name === '') return undefined;
  if (isAbsent(namespace) || namespace === '') return `default/${name}`;
  return typeof namespace === 'string' ? `${namespace}/${name}` : undefined;
}

/** Only Services: a Gateway parent belongs to a Gateway controller, never to the mesh. */
function readParentRefs(v: unknown, routeNs: string, r: RouteReporter): ServiceParentRef[] {
  const out: ServiceParentRef[] = [];
  const list = r.bounded(v, 'spec.parentRefs', LIMITS.parentRefs);
  if (list.length === 0)
    r.add(
      'spec.parentRefs',
      `expected at least one parentRef naming a Service (group "", kind Service), found ${describe(v)}`,
    );
  const seen = new Set<string>();
  for (const [i, raw] of list.entries()) {
    const f = `spec.parentRefs[${i}]`;
    const m = r.map(raw, f, true);
    if (!m) continue;
    r.known(m, f, ['group', 'kind', 'namespace', 'name', 'sectionName', 'port']);
    // The spec's defaults are a Gateway's (group gateway.networking.k8s.io, kind Gateway).
    const group = isAbsent(m.group) ? GATEWAY_GROUP : m.group;
    const kind = isAbsent(m.kind) ? 'Gateway' : m.kind;
    if (kind !== 'Service' || (group !== '' && group !== 'core')) {
      r.add(
        isAbsent(m.kind) || kind !== 'Service' ? `${f}.kind` : `${f}.group`,
        `expected a Service (group "", kind Service): weft is a mesh and binds routes to Services, found ${describe(group === '' ? kind : `${group}/${kind}`)}${isAbsent(m.kind) ? ' (the default when kind is left out)' : ''}`,
      );
      continue;
    }
    if (!isAbsent(m.sectionName))
      r.add(
        `${f}.sectionName`,
        `expected no sectionName (name the Service port with port), found ${describe(m.sectionName)}`,
      );
    const name = r.objectName(m.name, `${f}.name`);
    const namespace = isAbsent(m.namespace)
      ? routeNs
      : r.namespaceName(m.namespace, `${f}.namespace`);
    const port = isAbsent(m.port) ? undefined : r.int(m.port, `${f}.port`, 1, 65535);
    if (!name || namespace === undefined || (!isAbsent(m.port) && port === undefined)) continue;
    const key = `${namespace}/${name}:${port ?? ''}`;
    if (seen.has(key))
      r.add(
        f,
        `expected each parentRef once, found ${namespace}/${name}${port ? ` port ${port}` : ''} again`,
      );
    seen.add(key);
    out.push({ namespace, name, ...(port ? { port } : {}) });
  }
  return out;
}

type RuleReader<M> = (
  m: Record<string, unknown>,
  f: string,
  ns: string,
  r: RouteReporter,
) => RouteRule<M>;

function readRules<M>(
  v: unknown,
  routeNs: string,
  r: RouteReporter,
  read: RuleReader<M>,
  dflt: () => RouteRule<M>,
): RouteRule<M>[] {
  // The spec's default: one rule with the default match (PathPrefix /) and no backends.
  if (isAbsent(v)) return [dflt()];
  const out: RouteRule<M>[] = [];
  const names = new Set<string>();
  for (const [i, raw] of r.bounded(v, 'spec.rules', LIMITS.rules).entries()) {
    const f = `spec.rules[${i}]`;
    const m = r.map(raw, f, true);
    if (!m) continue;
    const rule = read(m, f, routeNs, r);
    if (rule.name !== undefined) {
      if (names.has(rule.name))
        r.add(`${f}.name`, `expected rule names unique in the route, found ${rule.name} again`);
      names.add(rule.name);
    }
    out.push(rule);
  }
  return out;
}

const ruleNameRe = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function readRuleName(v: unknown, f: string, r: RouteReporter): string | undefined {
  if (isAbsent(v)) return undefined;
  if (typeof v === 'string' && v.length <= 253 && ruleNameRe.test(v)) return v;
  r.add(
    `${f}.name`,
    `expected a rule name (lowercase letters, digits and '-', at most 253 characters), found ${describe(v)}`,
  );
  return undefined;
}

function refuseSessionPersistence(m: Record<string, unknown>, f: string, r: RouteReporter): void {
  if (!isAbsent(m.sessionPersistence))
    r.add(
      `${f}.sessionPersistence`,
      `expected no sessionPersistence (weft balances each request; it pins no sessions), found ${describe(m.sessionPersistence)}`,
    );
}

// --- HTTPRoute ----------------------------------------------------------------

const DEFAULT_HTTP_MATCH: HttpRouteMatch = {
  path: { type: 'PathPrefix', value: '/' },
  headers: [],
  queryParams: [],
};

function defaultHttpRule(): RouteRule<HttpRouteMatch> {
  return { matches: [DEFAULT_HTTP_MATCH], filters: [], backendRefs: [] };
}

const METHODS = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
] as const;

function readHttpRule(
  m: Record<string, unknown>,
  f: string,
  ns: string,
  r: RouteReporter,
): RouteRule<HttpRouteMatch> {
  r.known(m, f, [
    'name',
    'matches',
    'filters',
    'backendRefs',
    'timeouts',
    'retry',
    'sessionPersistence',
  ]);
  refuseSessionPersistence(m, f, r);
  const name = readRuleName(m.name, f, r);
  const list = r.bounded(m.matches, `${f}.matches`, LIMITS.matches);
  const matches: HttpRouteMatch[] = [];
  for (const [i, raw] of list.entries()) {
    const mf = `${f}.matches[${i}]`;
    const mm = r.map(raw, mf, true);
    if (mm) matches.push(readHttpMatch(mm, mf, r));
  }
  if (matches.length === 0 && list.length === 0) matches.push(DEFAULT_HTTP_MATCH);
  const filters = readFilters(m.filters, `${f}.filters`, HTTP_RULE_FILTERS, ns, r);
  // ReplacePrefixMatch replaces what one PathPrefix match matched (the spec's CEL rule).
  for (const [i, flt] of filters.entries()) {
    const path = flt.type === 'RequestRedirect' || flt.type === 'URLRewrite' ? flt.path : undefined;
    if (
      path?.type === 'ReplacePrefixMatch' &&
      (matches.length !== 1 || matches[0]!.path.type !== 'PathPrefix')
    )
      r.add(
        `${f}.filters[${i}]`,
        `expected exactly one match, of path type PathPrefix, with ReplacePrefixMatch, found ${matches.length} match(es)${matches.length === 1 ? ` of path type ${matches[0]!.path.type}` : ''}`,
      );
  }
  const backendRefs = readBackendRefs(m.backendRefs, `${f}.backendRefs`, ns, HTTP_FILTERS, r);
  const timeouts = isAbsent(m.timeouts) ? undefined : readTimeouts(m.timeouts, `${f}.timeouts`, r);
  const retry = isAbsent(m.retry) ? undefined : readRetry(m.retry, `${f}.retry`, r);
  return {
    ...(name ? { name } : {}),
    matches,
    filters,
    backendRefs,
    ...(timeouts && (timeouts.request || timeouts.backendRequest) ? { timeouts } : {}),
    ...(retry ? { retry } : {}),
  };
}

function readHttpMatch(m: Record<string, unknown>, f: string, r: RouteReporter): HttpRouteMatch {
  r.known(m, f, ['path', 'headers', 'queryParams', 'method']);
  const path = isAbsent(m.path) ? DEFAULT_HTTP_MATCH.path : readPath(m.path, `${f}.path`, r);
  const headers = readStringMatches(m.headers, `${f}.headers`, LIMITS.headers, true, r);
  const queryParams = readStringMatches(
    m.queryParams,
    `${f}.queryParams`,
    LIMITS.queryParams,
    false,
    r,
  );
  const method = isAbsent(m.method) ? undefined : r.oneOf(m.method, `${f}.method`, METHODS);
  return {
    path: path ?? DEFAULT_HTTP_MATCH.path,
    headers,
    queryParams,
    ...(method ? { method } : {}),
  };
}

function readPath(v: unknown, f: string, r: RouteReporter): PathMatch | undefined {
  const m = r.map(v, f, true);
  if (!m) return undefined;
  r.known(m, f, ['type', 'value']);
  const type = r.oneOf(
    m.type,
    `${f}.type`,
    ['Exact', 'PathPrefix', 'RegularExpression'] as const,
    'PathPrefix',
  );
  const value = isAbsent(m.value) ? '/' : m.value;
  if (type === 'RegularExpression') {
    const re = r.regex(value, `${f}.value`);
    return re === undefined ? undefined : { type, value: re };
  }
  if (typeof value !== 'string' || !value.startsWith('/') || value.length > LIMITS.pathLength) {
    r.add(
      `${f}.value`,
      `expected a path starting with / of at most ${LIMITS.pathLength} characters, found ${describe(value)}`,
    );
    return undefined;
  }
  // What the spec's CEL rules refuse in Exact and PathPrefix paths: they never match a normalized request path.
  const bad = ['//', '/./', '/../', '%2f', '%2F', '#'].find((s) => value.includes(s));
  if (bad || value.endsWith('/..') || value.endsWith('/.')) {
    r.add(
      `${f}.value`,
      `expected a normalized path (no //, /./, /../, %2f or #, not ending in /. or /..), found ${describe(value)}`,
    );
    return undefined;
  }
  return type ? { type, value } : undefined;
}

/** headers (names case-insensitive, lower-cased) or queryParams (names exact). */
function readStringMatches(
  v: unknown,
  field: string,
  max: number,
  header: boolean,
  r: RouteReporter,
): HeaderMatch[] {
  const out: HeaderMatch[] = [];
  const names = new Set<string>();
  for (const [i, raw] of r.bounded(v, field, max).entries()) {
    const f = `${field}[${i}]`;
    const m = r.map(raw, f, true);
    if (!m) continue;
    r.known(m, f, ['type', 'name', 'value']);
    const type = r.oneOf(m.type, `${f}.type`, ['Exact', 'RegularExpression'] as const, 'Exact');
    const name = header
      ? r.headerName(m.name, `${f}.name`)
      : r.headerName(m.name, `${f}.name`) && (m.name as string);
    const value =
      type === 'RegularExpression'
        ? r.regex(m.value, `${f}.value`)
        : r.headerValue(m.value, `${f}.value`);
    if (name && names.has(name))
      r.add(
        `${f}.name`,
        `expected each ${header ? 'header (names are case-insensitive)' : 'query parameter'} once in a match, found ${name} again`,
      );
    if (name) names.add(name);
    if (type && name && value !== undefined) out.push({ type, name, value });
  }
  return out;
}

function readTimeouts(v: unknown, f: string, r: RouteReporter): RouteTimeouts | undefined {
  const m = r.map(v, f, true);
  if (!m) return undefined;
  r.known(m, f, ['request', 'backendRequest']);
  // A zero duration means no timeout, as the spec says.
  const request = isAbsent(m.request) ? undefined : r.duration(m.request, `${f}.request`);
  const backendRequest = isAbsent(m.backendRequest)
    ? undefined
    : r.duration(m.backendRequest, `${f}.backendRequest`);
  if (request && backendRequest && backendRequest > request)
    r.add(
      `${f}.backendRequest`,
      `expected at most timeouts.request (${m.request}), found ${m.backendRequest}`,
    );
  return { ...(request ? { request } : {}), ...(backendRequest ? { backendRequest } : {}) };
}

function readRetry(v: unknown, f: string, r: RouteReporter): RouteRetry | undefined {
  const m = r.map(v, f, true);
  if (!m) return undefined;
  r.known(m, f, ['codes', 'attempts', 'backoff']);
  const codes: number[] = [];
  for (const [i, c] of r.bounded(m.codes, `${f}.codes`, 16).entries()) {
    const code = r.int(c, `${f}.codes[${i}]`, 400, 599);
    if (code !== undefined) codes.push(code);
  }
  const attempts = isAbsent(m.attempts) ? 1 : r.int(m.attempts, `${f}.attempts`, 0, 10);
  const backoff = isAbsent(m.backoff) ? undefined : r.duration(m.backoff, `${f}.backoff`);
  return attempts === undefined
    ? undefined
    : { codes, attempts, ...(backoff !== undefined ? { backoff } : {}) };
}

// --- GRPCRoute ----------------------------------------------------------------

function defaultGrpcRule(): RouteRule<GrpcRouteMatch> {
  return { matches: [{ headers: [] }], filters: [], backendRefs: [] };
}

function readGrpcRule(
  m: Record<string, unknown>,
  f: string,
  ns: string,
  r: RouteReporter,
): RouteRule<GrpcRouteMatch> {
  r.known(m, f, ['name', 'matches', 'filters', 'backendRefs', 'sessionPersistence']);
  refuseSessionPersistence(m, f, r);
  const name = readRuleName(m.name, f, r);
  const matches: GrpcRouteMatch[] = [];
  const list = r.bounded(m.matches, `${f}.matches`, 8);
  for (const [i, raw] of list.entries()) {
    const mf = `${f}.matches[${i}]`;
    const mm = r.map(raw, mf, true);
    if (!mm) continue;
    r.known(mm, mf, ['method', 'headers']);
    const method = isAbsent(mm.method) ? undefined : readGrpcMethod(mm.method, `${mf}.method`, r);
    const headers = readStringMatches(mm.headers, `${mf}.headers`, LIMITS.headers, true, r);
    matches.push({ ...(method ? { method } : {}), headers });
  }
  if (list.length === 0) matches.push({ headers: [] });
  const filters = readFilters(m.filters, `${f}.filters`, GRPC_RULE_FILTERS, ns, r);
  const backendRefs = readBackendRefs(m.backendRefs, `${f}.backendRefs`, ns, GRPC_FILTERS, r);
  return { ...(name ? { name } : {}), matches, filters, backendRefs };
}

const grpcServiceRe = /^\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$/i;
const grpcMethodRe = /^[A-Za-z_][A-Za-z_0-9]*$/;

function readGrpcMethod(v: unknown, f: string, r: RouteReporter): GrpcMethodMatch | undefined {
  const m = r.map(v, f, true);
  if (!m) return undefined;
  r.known(m, f, ['type', 'service', 'method']);
  const type = r.oneOf(m.type, `${f}.type`, ['Exact', 'RegularExpression'] as const, 'Exact');
  if (isAbsent(m.service) && isAbsent(m.method)) {
    r.add(f, 'expected service, method or both, found neither');
    return undefined;
  }
  const one = (key: 'service' | 'method', re: RegExp, what: string) => {
    if (isAbsent(m[key])) return undefined;
    if (type === 'RegularExpression') return r.regex(m[key], `${f}.${key}`);
    const s = m[key];
    if (typeof s === 'string' && s.length <= 1024 && re.test(s)) return s;
    r.add(`${f}.${key}`, `expected ${what}, found ${describe(s)}`);
    return undefined;
  };
  const service = one('service', grpcServiceRe, 'a gRPC service name such as helloworld.Greeter');
  const method = one('method', grpcMethodRe, 'a gRPC method name such as SayHello');
  return type
    ? { type, ...(service ? { service } : {}), ...(method ? { method } : {}) }
    : undefined;
}
