// One ReferenceGrant document (gateway.networking.k8s.io/v1beta1) → the grant, as far as
// routes reaching Services in its namespace need it, or an error naming each wrong field.
// Grants are shared with other Gateway API controllers: an entry from a Gateway, or to a
// Secret, is valid and concerns them, not the mesh, so it is read and kept out of the grant.
// Pure.
import type { ObjectError, ReferenceGrant, RouteKind } from '../../state/index.ts';
import { describe, isAbsent } from '../fields.ts';
import { GATEWAY_GROUP, objectHeader, RouteReporter } from './reader.ts';

export const GRANT_API_VERSIONS: readonly string[] = [`${GATEWAY_GROUP}/v1beta1`];

export interface GrantParseResult {
  readonly grant?: ReferenceGrant;
  readonly errors: ObjectError[];
  readonly id?: string;
}

export function isGrantDocument(doc: Record<string, unknown>): boolean {
  return (
    doc.kind === 'ReferenceGrant' &&
    typeof doc.apiVersion === 'string' &&
    doc.apiVersion.startsWith(`${GATEWAY_GROUP}/`)
  );
}

const ROUTE_KINDS: readonly string[] = ['HTTPRoute', 'GRPCRoute'];

export function parseReferenceGrant(
  file: string,
  doc: Record<string, unknown>,
  index: number,
): GrantParseResult {
  const { r, id, name, namespace } = objectHeader(
    (o) => new RouteReporter(file, o),
    doc,
    index,
    'ReferenceGrant',
    GRANT_API_VERSIONS,
  );
  const spec = r.map(doc.spec, 'spec', true);
  const from: { kind: RouteKind; namespace: string }[] = [];
  const to: { name?: string }[] = [];
  if (spec) {
    r.known(spec, 'spec', ['from', 'to']);
    const fromList = r.bounded(spec.from, 'spec.from', 16);
    if (fromList.length === 0) r.add('spec.from', 'expected at least one entry, found none');
    for (const [i, raw] of fromList.entries()) {
      const f = `spec.from[${i}]`;
      const e = r.map(raw, f, true);
      if (!e) continue;
      r.known(e, f, ['group', 'kind', 'namespace']);
      const group = typeof e.group === 'string' ? e.group : undefined;
      if (group === undefined)
        r.add(
          `${f}.group`,
          `expected an API group, such as ${GATEWAY_GROUP}, found ${describe(e.group)}`,
        );
      const kind = r.string(e.kind, `${f}.kind`, 'a kind');
      const fromNs = r.namespaceName(e.namespace, `${f}.namespace`);
      if (group === GATEWAY_GROUP && kind && ROUTE_KINDS.includes(kind) && fromNs)
        from.push({ kind: kind as RouteKind, namespace: fromNs });
    }
    const toList = r.bounded(spec.to, 'spec.to', 16);
    if (toList.length === 0) r.add('spec.to', 'expected at least one entry, found none');
    for (const [i, raw] of toList.entries()) {
      const f = `spec.to[${i}]`;
      const e = r.map(raw, f, true);
      if (!e) continue;
      r.known(e, f, ['group', 'kind', 'name']);
      if (typeof e.group !== 'string')
        r.add(
          `${f}.group`,
          `expected an API group ("" for the core group), found ${describe(e.group)}`,
        );
      const kind = r.string(e.kind, `${f}.kind`, 'a kind');
      const toName = isAbsent(e.name) ? undefined : r.objectName(e.name, `${f}.name`);
      if ((e.group === '' || e.group === 'core') && kind === 'Service')
        to.push(toName ? { name: toName } : {});
    }
  }
  if (r.errors.length > 0 || !name || !namespace)
    return { errors: r.errors, ...(id ? { id } : {}) };
  return { grant: { namespace, name, from, to }, errors: [], id: id! };
}
