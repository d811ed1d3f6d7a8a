// A route's filters and backendRefs, HTTPRoute's and GRPCRoute's alike (GRPCRoute allows a
// subset of the filter types). What weft cannot carry out (an ExtensionRef to anything
// but a weft.dev HTTPFault, CORS, a backend that is not a Service) is refused by name. Pure.
import type { BackendRef, HeaderModifier, PathModifier, RouteFilter } from '../../state/index.ts';
import { describe, isAbsent, isPortNumber } from '../fields.ts';
import { LIMITS, type RouteReporter } from './reader.ts';

export type FilterType = RouteFilter['type'];

export const HTTP_FILTERS: readonly FilterType[] = [
  'RequestHeaderModifier',
  'ResponseHeaderModifier',
  'RequestRedirect',
  'URLRewrite',
  'RequestMirror',
];
export const GRPC_FILTERS: readonly FilterType[] = [
  'RequestHeaderModifier',
  'ResponseHeaderModifier',
  'RequestMirror',
];
/** A rule's own filters may also name an HTTPFault (ExtensionRef); a backendRef's may not. */
export const HTTP_RULE_FILTERS: readonly FilterType[] = [...HTTP_FILTERS, 'ExtensionRef'];
export const GRPC_RULE_FILTERS: readonly FilterType[] = [...GRPC_FILTERS, 'ExtensionRef'];

/** The field each filter type's settings live in. */
const settingsField: Record<string, string> = {
  RequestHeaderModifier: 'requestHeaderModifier',
  ResponseHeaderModifier: 'responseHeaderModifier',
  RequestRedirect: 'requestRedirect',
  URLRewrite: 'urlRewrite',
  RequestMirror: 'requestMirror',
  ExtensionRef: 'extensionRef',
  CORS: 'cors',
  ExternalAuth: 'externalAuth',
};

const unsupportedFilter: Record<string, string> = {
  CORS: 'weft does not answer CORS itself yet',
  ExternalAuth: 'weft calls no external authorizers',
};

/** A list of filters; `allowed` says which types this place takes. */
export function readFilters(
  v: unknown,
  field: string,
  allowed: readonly FilterType[],
  routeNs: string,
  r: RouteReporter,
): RouteFilter[] {
  const out: RouteFilter[] = [];
  const seen = new Set<string>();
  for (const [i, raw] of r.bounded(v, field, LIMITS.filters).entries()) {
    const f = `${field}[${i}]`;
    const m = r.map(raw, f, true);
    if (!m) continue;
    r.known(m, f, ['type', ...Object.values(settingsField)]);
    const type = m.type;
    if (typeof type === 'string' && unsupportedFilter[type]) {
      r.add(
        `${f}.type`,
        `expected ${allowed.join(', ')}, found ${type}: ${unsupportedFilter[type]}`,
      );
      continue;
    }
    if (typeof type !== 'string' || !(allowed as readonly string[]).includes(type)) {
      const where =
        typeof type === 'string' && HTTP_RULE_FILTERS.includes(type as FilterType)
          ? ' (not allowed here)'
          : '';
      r.add(`${f}.type`, `expected ${allowed.join(', ')}, found ${describe(type)}${where}`);
      continue;
    }
    // Each type's settings go in its own field, and only that one is set (the spec's CEL rules).
    for (const [t, sf] of Object.entries(settingsField)) {
      if (t === type && isAbsent(m[sf]))
        r.add(`${f}.${sf}`, `expected the settings of the ${type} filter, found nothing`);
      else if (t !== type && !isAbsent(m[sf]))
        r.add(`${f}.${sf}`, `expected no ${sf} in a ${type} filter, found ${describe(m[sf])}`);
    }
    // Only the mirror may appear more than once in one list.
    if (type !== 'RequestMirror' && seen.has(type))
      r.add(
        `${f}.type`,
        `expected each filter type once (RequestMirror excepted), found ${type} again`,
      );
    seen.add(type);
    const sf = `${f}.${settingsField[type]}`;
    if (isAbsent(m[settingsField[type]!])) continue;
    const s = r.map(m[settingsField[type]!], sf, true);
    if (!s) continue;
    const filter = readFilter(type as FilterType, s, sf, routeNs, r);
    if (filter) out.push(filter);
  }
  if (seen.has('RequestRedirect') && seen.has('URLRewrite'))
    r.add(
      field,
      'expected RequestRedirect or URLRewrite, found both (a redirect is answered, never forwarded)',
    );
  return out;
}

function readFilter(
  type: FilterType,
  s: Record<string, unknown>,
  f: string,
  routeNs: string,
  r: RouteReporter,
): RouteFilter | undefined {
  switch (type) {
    case 'RequestHeaderModifier':
    case 'ResponseHeaderModifier':
      return { type, modifier: readModifier(s, f, r) };
    case 'ExtensionRef': {
      r.known(s, f, ['group', 'kind', 'name']);
      const name = r.objectName(s.name, `${f}.name`);
      if (s.group !== 'weft.dev' || s.kind !== 'HTTPFault') {
        r.add(
          f,
          `expected group weft.dev and kind HTTPFault (weft runs no other extension filters), found group ${describe(s.group)} and kind ${describe(s.kind)}`,
        );
        return undefined;
      }
      return name ? { type, group: 'weft.dev', kind: 'HTTPFault', name } : undefined;
    }
    case 'RequestRedirect': {
      r.known(s, f, ['scheme', 'hostname', 'path', 'port', 'statusCode']);
      const scheme = isAbsent(s.scheme)
        ? undefined
        : r.oneOf(s.scheme, `${f}.scheme`, ['http', 'https'] as const);
      const hostname = isAbsent(s.hostname)
        ? undefined
        : r.hostname(s.hostname, `${f}.hostname`, false);
      const port = isAbsent(s.port) ? undefined : r.int(s.port, `${f}.port`, 1, 65535);
      const path = isAbsent(s.path) ? undefined : readPathModifier(s.path, `${f}.path`, r);
      // The Gateway API's default is 302.
      let statusCode = 302;
      if (!isAbsent(s.statusCode)) {
        if ([301, 302, 303, 307, 308].includes(s.statusCode as number))
          statusCode = s.statusCode as number;
        else
          r.add(
            `${f}.statusCode`,
            `expected 301, 302, 303, 307 or 308, found ${describe(s.statusCode)}`,
          );
      }
      return {
        type,
        ...(scheme ? { scheme } : {}),
        ...(hostname ? { hostname } : {}),
        ...(port ? { port } : {}),
        ...(path ? { path } : {}),
        statusCode,
      };
    }
    case 'URLRewrite': {
      r.known(s, f, ['hostname', 'path']);
      const hostname = isAbsent(s.hostname)
        ? undefined
        : r.hostname(s.hostname, `${f}.hostname`, false);
      const path = isAbsent(s.path) ? undefined : readPathModifier(s.path, `${f}.path`, r);
      return { type, ...(hostname ? { hostname } : {}), ...(path ? { path } : {}) };
    }
    case 'RequestMirror': {
      r.known(s, f, ['backendRef', 'percent', 'fraction']);
      const b = r.map(s.backendRef, `${f}.backendRef`, true);
      const backend = b ? readServiceRef(b, `${f}.backendRef`, routeNs, r) : undefined;
      let percent = 100;
      if (!isAbsent(s.percent) && !isAbsent(s.fraction))
        r.add(f, 'expected percent or fraction, found both');
      if (!isAbsent(s.percent)) percent = r.int(s.percent, `${f}.percent`, 0, 100) ?? 100;
      else if (!isAbsent(s.fraction)) {
        const fr = r.map(s.fraction, `${f}.fraction`, true);
        if (fr) {
          r.known(fr, `${f}.fraction`, ['numerator', 'denominator']);
          const num = r.int(fr.numerator, `${f}.fraction.numerator`, 0, 2 ** 31 - 1);
          const den = isAbsent(fr.denominator)
            ? 100
            : r.int(fr.denominator, `${f}.fraction.denominator`, 1, 2 ** 31 - 1);
          if (num !== undefined && den !== undefined) {
            if (num > den)
              r.add(`${f}.fraction`, `expected numerator at most denominator, found ${num}/${den}`);
            percent = (100 * num) / den;
          }
        }
      }
      return backend ? { type, backend, percent } : undefined;
    }
  }
}

function readModifier(s: Record<string, unknown>, f: string, r: RouteReporter): HeaderModifier {
  r.known(s, f, ['set', 'add', 'remove']);
  const before = r.errors.length;
  const pairs = (key: 'set' | 'add') => {
    const out: { name: string; value: string }[] = [];
    const names = new Set<string>();
    for (const [i, raw] of r.bounded(s[key], `${f}.${key}`, LIMITS.modifierEntries).entries()) {
      const ef = `${f}.${key}[${i}]`;
      const m = r.map(raw, ef, true);
      if (!m) continue;
      r.known(m, ef, ['name', 'value']);
      const name = r.headerName(m.name, `${ef}.name`);
      const value = r.headerValue(m.value, `${ef}.value`);
      if (name && names.has(name))
        r.add(
          `${ef}.name`,
          `expected each header once in ${key} (names are case-insensitive), found ${name} again`,
        );
      if (name) names.add(name);
      if (name && value !== undefined) out.push({ name, value });
    }
    return out;
  };
  const set = pairs('set');
  const add = pairs('add');
  const remove: string[] = [];
  for (const [i, raw] of r.bounded(s.remove, `${f}.remove`, LIMITS.modifierEntries).entries()) {
    const name = r.headerName(raw, `${f}.remove[${i}]`);
    if (name && remove.includes(name))
      r.add(`${f}.remove[${i}]`, `expected each header once, found ${name} again`);
    else if (name) remove.push(name);
  }
  if (set.length + add.length + remove.length === 0 && r.errors.length === before)
    r.add(f, 'expected at least one of set, add or remove, found none');
  return { set, add, remove };
}

function readPathModifier(v: unknown, f: string, r: RouteReporter): PathModifier | undefined {
  const m = r.map(v, f, true);
  if (!m) return undefined;
  r.known(m, f, ['type', 'replaceFullPath', 'replacePrefixMatch']);
  const type = r.oneOf(m.type, `${f}.type`, ['ReplaceFullPath', 'ReplacePrefixMatch'] as const);
  if (!type) return undefined;
  const key = type === 'ReplaceFullPath' ? 'replaceFullPath' : 'replacePrefixMatch';
  const other = type === 'ReplaceFullPath' ? 'replacePrefixMatch' : 'replaceFullPath';
  if (!isAbsent(m[other]))
    r.add(`${f}.${other}`, `expected no ${other} with type ${type}, found ${describe(m[other])}`);
  const value = m[key];
  if (typeof value !== 'string' || !value.startsWith('/') || value.length > LIMITS.pathLength) {
    r.add(
      `${f}.${key}`,
      `expected a path starting with / of at most ${LIMITS.pathLength} characters, found ${describe(value)}`,
    );
    return undefined;
  }
  return { type, value };
}

/**
 * A reference to a Service (group "", kind Service, a port required), as backendRefs and
 * mirrors name one; the namespace defaults to the route's, `routeNs`.
 */
export function readServiceRef(
  m: Record<string, unknown>,
  f: string,
  routeNs: string,
  r: RouteReporter,
  extra: readonly string[] = [],
): { namespace: string; name: string; port: number } | undefined {
  r.known(m, f, ['group', 'kind', 'name', 'namespace', 'port', ...extra]);
  const group = isAbsent(m.group) ? '' : m.group;
  const kind = isAbsent(m.kind) ? 'Service' : m.kind;
  let ok = true;
  if (group !== '' && group !== 'core') {
    r.add(
      `${f}.group`,
      `expected "" (the core group: weft routes to Services only), found ${describe(group)}`,
    );
    ok = false;
  }
  if (kind !== 'Service') {
    r.add(`${f}.kind`, `expected Service (weft routes to Services only), found ${describe(kind)}`);
    ok = false;
  }
  const name = r.objectName(m.name, `${f}.name`);
  const namespace = isAbsent(m.namespace)
    ? routeNs
    : r.namespaceName(m.namespace, `${f}.namespace`);
  let port: number | undefined;
  if (isPortNumber(m.port)) port = m.port;
  else
    r.add(
      `${f}.port`,
      `expected the Service's port (1 to 65535; a Service backend needs one), found ${describe(m.port)}`,
    );
  if (!ok || !name || namespace === undefined || port === undefined) return undefined;
  return { namespace, name, port };
}

export function readBackendRefs(
  v: unknown,
  field: string,
  routeNs: string,
  allowedFilters: readonly FilterType[],
  r: RouteReporter,
): BackendRef[] {
  const out: BackendRef[] = [];
  for (const [i, raw] of r.bounded(v, field, LIMITS.backendRefs).entries()) {
    const f = `${field}[${i}]`;
    const m = r.map(raw, f, true);
    if (!m) continue;
    const ref = readServiceRef(m, f, routeNs, r, ['weight', 'filters']);
    const weight = isAbsent(m.weight) ? 1 : r.int(m.weight, `${f}.weight`, 0, 1_000_000);
    // Per backend, weft applies header modifiers; redirects, rewrites and mirrors go on the rule.
    const filters = readFilters(
      m.filters,
      `${f}.filters`,
      allowedFilters.filter((t) => t === 'RequestHeaderModifier' || t === 'ResponseHeaderModifier'),
      routeNs,
      r,
    );
    if (ref && weight !== undefined) out.push({ ...ref, weight, filters });
  }
  return out;
}
