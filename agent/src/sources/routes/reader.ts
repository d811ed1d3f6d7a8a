// The field readers the Gateway API parsers share: strict about unknown fields (a misspelt
// `matches` would route traffic unseen), and about what the Gateway API's own validation
// (its CRD schemas and CEL rules) refuses, so that a route kubectl accepts and one weft
// accepts are the same routes. Pure.
import {
  describe,
  fieldKey,
  isAbsent,
  isDns1123Label,
  isDns1123Subdomain,
  isMap,
} from '../fields.ts';
import { Reporter } from '../report.ts';

export const GATEWAY_GROUP = 'gateway.networking.k8s.io';

/** Limits the Gateway API's schemas set; weft holds routes to them. */
export const LIMITS = {
  parentRefs: 32,
  hostnames: 16,
  rules: 16,
  matches: 64,
  headers: 16,
  queryParams: 16,
  filters: 16,
  backendRefs: 16,
  modifierEntries: 16,
  pathLength: 1024,
  headerValueLength: 4096,
  nameLength: 256,
  /** A regular expression's length (weft's own bound: the request path runs it). */
  regexLength: 1024,
} as const;

/** An HTTP header name (RFC 7230 token), as the Gateway API's HTTPHeaderName pattern has it. */
const tokenRe = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;
/** A precise or wildcard hostname, as the Gateway API's Hostname pattern has it. */
const hostnameRe = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** Gateway API Duration: up to four number-unit pairs (GEP-2257). */
const durationRe = /^([0-9]{1,5}(h|m|s|ms)){1,4}$/;

export class RouteReporter extends Reporter {
  /** Unknown fields are errors, naming each. */
  known(m: Record<string, unknown>, field: string, names: readonly string[]): void {
    for (const k of Object.keys(m))
      if (!names.includes(k))
        this.add(
          `${field}${fieldKey(k)}`,
          `expected one of ${names.join(', ')}, found the unknown field ${JSON.stringify(k)}`,
        );
  }

  /** A list of at most `max` entries. */
  bounded(v: unknown, field: string, max: number): unknown[] {
    const l = this.list(v, field);
    if (l.length > max) {
      this.add(field, `expected at most ${max} entries, found ${l.length}`);
      return l.slice(0, max);
    }
    return l;
  }

  string(
    v: unknown,
    field: string,
    what = 'a string',
    max: number = LIMITS.nameLength,
  ): string | undefined {
    if (typeof v === 'string' && v !== '' && v.length <= max) return v;
    const long = typeof v === 'string' && v.length > max ? ` (${v.length} characters)` : '';
    this.add(field, `expected ${what} of at most ${max} characters, found ${describe(v)}${long}`);
    return undefined;
  }

  /** One of `values`; `dflt` when absent. */
  oneOf<T extends string>(
    v: unknown,
    field: string,
    values: readonly T[],
    dflt?: T,
  ): T | undefined {
    if (isAbsent(v) && dflt !== undefined) return dflt;
    if (typeof v === 'string' && (values as readonly string[]).includes(v)) return v as T;
    this.add(field, `expected ${values.join(', ')}, found ${describe(v)}`);
    return undefined;
  }

  int(v: unknown, field: string, min: number, max: number): number | undefined {
    if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max) return v;
    this.add(field, `expected a whole number from ${min} to ${max}, found ${describe(v)}`);
    return undefined;
  }

  headerName(v: unknown, field: string): string | undefined {
    if (typeof v === 'string' && v.length <= LIMITS.nameLength && tokenRe.test(v))
      return v.toLowerCase();
    this.add(
      field,
      `expected an HTTP header name (letters, digits and !#$%&'*+-.^_\`|~, at most ${LIMITS.nameLength} characters), found ${describe(v)}`,
    );
    return undefined;
  }

  /** A header value may be empty; it may not carry a line break (it would split the header). */
  headerValue(v: unknown, field: string): string | undefined {
    if (typeof v === 'string' && v.length <= LIMITS.headerValueLength && !/[\r\n\0]/.test(v))
      return v;
    this.add(
      field,
      `expected a header value of at most ${LIMITS.headerValueLength} characters without CR, LF or NUL, found ${describe(v)}`,
    );
    return undefined;
  }

  hostname(v: unknown, field: string, wildcard: boolean): string | undefined {
    if (
      typeof v === 'string' &&
      v.length <= 253 &&
      hostnameRe.test(v) &&
      (wildcard || !v.startsWith('*'))
    )
      return v;
    this.add(
      field,
      `expected a ${wildcard ? 'hostname, or a wildcard *.name,' : 'precise hostname'} (lowercase DNS labels), found ${describe(v)}`,
    );
    return undefined;
  }

  /** A Gateway API Duration in milliseconds (`10s`, `1m30s`, `500ms`). */
  duration(v: unknown, field: string): number | undefined {
    if (typeof v === 'string' && durationRe.test(v)) {
      let ms = 0;
      for (const m of v.matchAll(/([0-9]+)(h|ms|m|s)/g)) {
        const n = Number(m[1]);
        ms +=
          m[2] === 'h' ? n * 3_600_000 : m[2] === 'm' ? n * 60_000 : m[2] === 's' ? n * 1000 : n;
      }
      return ms;
    }
    this.add(
      field,
      `expected a duration such as 10s, 1m30s or 500ms (number-unit pairs, units h, m, s, ms), found ${describe(v)}`,
    );
    return undefined;
  }

  /**
   * A regular expression weft runs on each request: it must compile, stay within
   * LIMITS.regexLength, and use RE2's syntax (what the Gateway API's other
   * implementations run): no back-references or look-arounds. A repeated group that itself
   * repeats or alternates (`(a+)+`, `(a|aa)+`) backtracks exponentially in JavaScript and is
   * refused too. The check is syntactic: it narrows, and does not close, the way to a slow
   * expression (docs/routing.md).
   */
  regex(v: unknown, field: string): string | undefined {
    const s = this.string(v, field, 'a regular expression', LIMITS.regexLength);
    if (s === undefined) return undefined;
    try {
      new RegExp(s);
    } catch (e) {
      this.add(
        field,
        `expected a regular expression, found ${describe(s)}: ${(e as Error).message}`,
      );
      return undefined;
    }
    if (/\\[1-9]|\\k<|\(\?<?[=!]/.test(s)) {
      this.add(
        field,
        `expected an RE2 regular expression (no back-references or look-arounds), found ${describe(s)}`,
      );
      return undefined;
    }
    if (nestedQuantifier(s)) {
      this.add(
        field,
        `expected a regular expression without a repeated group that itself repeats or alternates (such as (a+)+ or (a|aa)+: it backtracks exponentially), found ${describe(s)}`,
      );
      return undefined;
    }
    return s;
  }

  /** metadata.name (a DNS subdomain) of a namespaced object. */
  objectName(v: unknown, field: string): string | undefined {
    if (typeof v === 'string' && isDns1123Subdomain(v)) return v;
    this.add(field, `expected a DNS-1123 subdomain, found ${describe(v)}`);
    return undefined;
  }

  namespaceName(v: unknown, field: string): string | undefined {
    if (typeof v === 'string' && isDns1123Label(v)) return v;
    this.add(field, `expected a namespace name (a DNS-1123 label), found ${describe(v)}`);
    return undefined;
  }
}

/** A group `( ... )` with a quantifier or an alternation inside, itself followed by a quantifier. */
function nestedQuantifier(s: string): boolean {
  const stack: boolean[] = [];
  let inner = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '[') {
      // Skip a character class: its contents are not quantifiers.
      while (i < s.length && s[i] !== ']') i += s[i] === '\\' ? 2 : 1;
      continue;
    }
    if (c === '(') {
      stack.push(inner);
      inner = false;
    } else if (c === ')') {
      const had: boolean = inner;
      inner = stack.pop() ?? false;
      const next = s[i + 1];
      if (had && (next === '*' || next === '+' || next === '{')) return true;
      inner ||= had;
    } else if (c === '*' || c === '+' || c === '{' || c === '|') inner = true;
  }
  return false;
}

/** What every parser of a namespaced kind reads first: its identity, apiVersion and metadata. */
export interface ObjectHeader<R> {
  readonly r: R;
  /** `Kind namespace/name` when the document names one. */
  readonly id?: string;
  readonly name?: string;
  readonly namespace?: string;
  readonly meta?: Record<string, unknown>;
}

/**
 * The header of a namespaced object of `kind` (namespace `default` when absent), its
 * errors in a reporter made by `make` for the object's identity (or `document N`).
 */
export function objectHeader<R extends RouteReporter>(
  make: (object: string) => R,
  doc: Record<string, unknown>,
  index: number,
  kind: string,
  versions: readonly string[],
): ObjectHeader<R> {
  const meta0 = isMap(doc.metadata) ? doc.metadata : undefined;
  const named = typeof meta0?.name === 'string' && meta0.name !== '';
  const ns0 = isAbsent(meta0?.namespace) || meta0?.namespace === '' ? 'default' : meta0?.namespace;
  const id = named && typeof ns0 === 'string' ? `${kind} ${ns0}/${meta0!.name}` : undefined;
  const r = make(id ?? `document ${index + 1}`);
  if (!versions.includes(doc.apiVersion as string))
    r.add(
      'apiVersion',
      `expected ${versions.join(' or ')} for ${/^[AEIOU]/.test(kind) ? 'an' : 'a'} ${kind}, found ${describe(doc.apiVersion)}`,
    );
  const m = r.map(doc.metadata, 'metadata', true);
  const name = m ? r.objectName(m.name, 'metadata.name') : undefined;
  const namespace =
    m && (isAbsent(m.namespace) || m.namespace === '')
      ? 'default'
      : m
        ? r.namespaceName(m.namespace, 'metadata.namespace')
        : undefined;
  return {
    r,
    ...(id ? { id } : {}),
    ...(name ? { name } : {}),
    ...(namespace ? { namespace } : {}),
    ...(m ? { meta: m } : {}),
  };
}

/** metadata.creationTimestamp in ms since the epoch; 0 when absent or unreadable. */
export function createdAt(v: unknown): number {
  if (typeof v !== 'string') return 0;
  const t = Date.parse(v);
  return Number.isFinite(t) ? t : 0;
}

/** objectHeader with the Gateway API's reporter. */
export function readHead(
  file: string,
  doc: Record<string, unknown>,
  index: number,
  kind: string,
  versions: readonly string[],
): ObjectHeader<RouteReporter> {
  return objectHeader((o) => new RouteReporter(file, o), doc, index, kind, versions);
}
