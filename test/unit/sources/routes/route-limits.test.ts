// Every list a route may hold is bounded (docs/routing.md lists the numbers): one entry over
// a bound is refused by name, field and bound; exactly the bound is accepted.
import { describe, expect, it } from 'vitest';
import { parseManifestFile } from '../../../../agent/src/sources/manifests/index.ts';
import { LIMITS } from '../../../../agent/src/sources/routes/reader.ts';

const n = <T>(count: number, f: (i: number) => T): T[] =>
  Array.from({ length: count }, (_, i) => f(i));

function route(spec: Record<string, unknown>) {
  const doc = {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'r', namespace: 'shop' },
    spec: {
      parentRefs: [{ group: '', kind: 'Service', name: 'cart', port: 80 }],
      ...spec,
    },
  };
  // JSON is YAML: the manifest parser reads it as a file would hold it.
  return parseManifestFile('limits.yaml', JSON.stringify(doc));
}

const backend = { name: 'cart-v1', port: 8080 };
const rule = (r: Record<string, unknown>) => ({ rules: [{ backendRefs: [backend], ...r }] });
const header = (i: number) => ({ name: `x-h${i}`, value: 'v' });

// [field the error names, bound, spec with `count` entries in that list]
const lists: [string, number, (count: number) => Record<string, unknown>][] = [
  [
    'spec.parentRefs',
    LIMITS.parentRefs,
    (c) => ({
      parentRefs: n(c, (i) => ({ group: '', kind: 'Service', name: `s${i}`, port: 80 })),
      ...rule({}),
    }),
  ],
  [
    'spec.hostnames',
    LIMITS.hostnames,
    (c) => ({ hostnames: n(c, (i) => `h${i}.shop`), ...rule({}) }),
  ],
  ['spec.rules', LIMITS.rules, (c) => ({ rules: n(c, () => ({ backendRefs: [backend] })) })],
  [
    'spec.rules[0].matches',
    LIMITS.matches,
    (c) => rule({ matches: n(c, (i) => ({ path: { type: 'Exact', value: `/p${i}` } })) }),
  ],
  [
    'spec.rules[0].matches[0].headers',
    LIMITS.headers,
    (c) => rule({ matches: [{ headers: n(c, header) }] }),
  ],
  [
    'spec.rules[0].matches[0].queryParams',
    LIMITS.queryParams,
    (c) => rule({ matches: [{ queryParams: n(c, (i) => ({ name: `q${i}`, value: 'v' })) }] }),
  ],
  [
    'spec.rules[0].filters',
    LIMITS.filters,
    // RequestMirror is the one filter type a rule may repeat.
    (c) =>
      rule({
        filters: n(c, (i) => ({
          type: 'RequestMirror',
          requestMirror: { backendRef: { name: `m${i}`, port: 8080 } },
        })),
      }),
  ],
  [
    'spec.rules[0].backendRefs',
    LIMITS.backendRefs,
    (c) => ({ rules: [{ backendRefs: n(c, (i) => ({ name: `b${i}`, port: 8080 })) }] }),
  ],
  [
    'spec.rules[0].filters[0].requestHeaderModifier.set',
    LIMITS.modifierEntries,
    (c) =>
      rule({
        filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: n(c, header) } }],
      }),
  ],
];

describe('route list bounds', () => {
  for (const [field, max, spec] of lists) {
    it(`${field}: ${max} accepted, ${max + 1} refused by name`, () => {
      expect(route(spec(max)).errors).toEqual([]);
      const r = route(spec(max + 1));
      expect(r.objects).toEqual([]);
      expect(r.errors.map((e) => [e.file, e.object, e.field, e.message])).toContainEqual([
        'limits.yaml',
        'HTTPRoute shop/r',
        field,
        `expected at most ${max} entries, found ${max + 1}`,
      ]);
    });
  }

  it('refuses a path and a regular expression over their lengths', () => {
    const long = `/${'a'.repeat(LIMITS.pathLength)}`;
    const p = route(rule({ matches: [{ path: { type: 'Exact', value: long } }] }));
    expect(p.errors.map((e) => e.field)).toContain('spec.rules[0].matches[0].path.value');
    const x = route(
      rule({
        matches: [
          { path: { type: 'RegularExpression', value: `/${'a'.repeat(LIMITS.regexLength)}` } },
        ],
      }),
    );
    expect(x.errors.map((e) => e.field)).toContain('spec.rules[0].matches[0].path.value');
  });
});
