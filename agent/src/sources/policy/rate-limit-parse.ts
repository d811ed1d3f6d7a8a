// One weft.dev/v1alpha1 HTTPLocalRateLimitPolicy document → the policy, or an error
// naming each wrong field. Linkerd's shape (policy.linkerd.io HTTPLocalRateLimitPolicy)
// with a Service as the target: unknown fields are refused, every rate is a positive
// integer, and a policy that limits nothing is refused. Pure. docs/resilience.md.
import type {
  HttpLocalRateLimitPolicy,
  ObjectError,
  RateLimitOverride,
} from '../../state/index.ts';
import { describe, isAbsent } from '../fields.ts';
import { type RouteReporter, readHead } from '../routes/reader.ts';

export const RATE_LIMIT_GROUP = 'weft.dev';
export const RATE_LIMIT_API_VERSIONS: readonly string[] = [`${RATE_LIMIT_GROUP}/v1alpha1`];
export const RATE_LIMIT_KIND = 'HTTPLocalRateLimitPolicy';

/** Bounds of one policy (the CRD's schema says the same). */
export const RATE_LIMIT_POLICY_LIMITS = {
  overrides: 64,
  clientRefs: 64,
  /** Requests per second, at most. */
  rps: 1_000_000,
} as const;

export interface RateLimitParseResult {
  readonly policy?: HttpLocalRateLimitPolicy;
  readonly errors: ObjectError[];
  readonly id?: string;
}

export function isRateLimitDocument(doc: Record<string, unknown>): boolean {
  return (
    doc.kind === RATE_LIMIT_KIND &&
    typeof doc.apiVersion === 'string' &&
    doc.apiVersion.startsWith(`${RATE_LIMIT_GROUP}/`)
  );
}

function rps(r: RouteReporter, v: unknown, field: string): number | undefined {
  if (Number.isInteger(v) && (v as number) > 0 && (v as number) <= RATE_LIMIT_POLICY_LIMITS.rps)
    return v as number;
  r.add(
    field,
    `expected requests per second, an integer from 1 to ${RATE_LIMIT_POLICY_LIMITS.rps}, found ${describe(v)}`,
  );
  return undefined;
}

/** `total` or `identity`: `{requestsPerSecond}`. */
function limit(r: RouteReporter, v: unknown, field: string): number | undefined {
  if (isAbsent(v)) return undefined;
  const m = r.map(v, field, true);
  if (!m) return undefined;
  r.known(m, field, ['requestsPerSecond']);
  return rps(r, m.requestsPerSecond, `${field}.requestsPerSecond`);
}

export function parseRateLimitPolicy(
  file: string,
  doc: Record<string, unknown>,
  index: number,
): RateLimitParseResult {
  const { r, id, namespace, ...head } = readHead(
    file,
    doc,
    index,
    RATE_LIMIT_KIND,
    RATE_LIMIT_API_VERSIONS,
  );
  const name = head.name;
  const spec = r.map(doc.spec, 'spec', true);
  let target: string | undefined;
  let total: number | undefined;
  let identity: number | undefined;
  const overrides: RateLimitOverride[] = [];
  if (spec) {
    r.known(spec, 'spec', ['targetRef', 'total', 'identity', 'overrides']);
    const t = r.map(spec.targetRef, 'spec.targetRef', true);
    if (t) {
      r.known(t, 'spec.targetRef', ['group', 'kind', 'name']);
      if (!isAbsent(t.group) && t.group !== '' && t.group !== 'core')
        r.add('spec.targetRef.group', `expected "" (the core group), found ${describe(t.group)}`);
      if (t.kind !== 'Service')
        r.add('spec.targetRef.kind', `expected Service, found ${describe(t.kind)}`);
      target = r.objectName(t.name, 'spec.targetRef.name');
    }
    total = limit(r, spec.total, 'spec.total');
    identity = limit(r, spec.identity, 'spec.identity');
    const list = r.bounded(spec.overrides, 'spec.overrides', RATE_LIMIT_POLICY_LIMITS.overrides);
    for (const [i, raw] of list.entries()) {
      const f = `spec.overrides[${i}]`;
      const o = r.map(raw, f, true);
      if (!o) continue;
      r.known(o, f, ['requestsPerSecond', 'clientRefs']);
      const n = rps(r, o.requestsPerSecond, `${f}.requestsPerSecond`);
      const refs: { namespace: string; name: string }[] = [];
      const refList = r.bounded(
        o.clientRefs,
        `${f}.clientRefs`,
        RATE_LIMIT_POLICY_LIMITS.clientRefs,
      );
      if (refList.length === 0)
        r.add(`${f}.clientRefs`, 'expected at least one ServiceAccount, found none');
      for (const [j, rawRef] of refList.entries()) {
        const g = `${f}.clientRefs[${j}]`;
        const c = r.map(rawRef, g, true);
        if (!c) continue;
        r.known(c, g, ['kind', 'name', 'namespace']);
        if (c.kind !== 'ServiceAccount')
          r.add(`${g}.kind`, `expected ServiceAccount, found ${describe(c.kind)}`);
        const refName = r.objectName(c.name, `${g}.name`);
        const refNs = isAbsent(c.namespace)
          ? namespace
          : r.namespaceName(c.namespace, `${g}.namespace`);
        if (refName && refNs) refs.push({ namespace: refNs, name: refName });
      }
      if (n !== undefined) overrides.push({ requestsPerSecond: n, clientRefs: refs });
    }
    if (isAbsent(spec.total) && isAbsent(spec.identity) && list.length === 0)
      r.add('spec', 'expected at least one of total, identity or overrides, found none');
  }
  if (r.errors.length > 0 || !name || !namespace || !target)
    return { errors: r.errors, ...(id ? { id } : {}) };
  return {
    policy: {
      namespace,
      name,
      targetRef: { kind: 'Service', name: target },
      ...(total !== undefined ? { total } : {}),
      ...(identity !== undefined ? { identity } : {}),
      overrides,
    },
    errors: [],
    id: id!,
  };
}
