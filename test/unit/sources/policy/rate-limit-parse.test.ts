// HTTPLocalRateLimitPolicy documents: what is read, and what is refused by field.
import { describe, expect, it } from 'vitest';
import { parseManifestFile } from '../../../../agent/src/sources/manifests/parse.ts';
import { parseRateLimitPolicy } from '../../../../agent/src/sources/policy/rate-limit-parse.ts';

const doc = (spec: unknown, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'weft.dev/v1alpha1',
  kind: 'HTTPLocalRateLimitPolicy',
  metadata: { name: 'web-limit', namespace: 'shop' },
  spec,
  ...extra,
});

const fields = (r: { errors: { field: string }[] }) => r.errors.map((e) => e.field);

describe('parseRateLimitPolicy', () => {
  it('reads Linkerd`s shape with a Service target', () => {
    const r = parseRateLimitPolicy(
      'f.yaml',
      doc({
        targetRef: { group: '', kind: 'Service', name: 'web' },
        total: { requestsPerSecond: 100 },
        identity: { requestsPerSecond: 10 },
        overrides: [
          {
            requestsPerSecond: 40,
            clientRefs: [
              { kind: 'ServiceAccount', name: 'fast' },
              { kind: 'ServiceAccount', name: 'other', namespace: 'ops' },
            ],
          },
        ],
      }),
      0,
    );
    expect(r.errors).toEqual([]);
    expect(r.policy).toEqual({
      namespace: 'shop',
      name: 'web-limit',
      targetRef: { kind: 'Service', name: 'web' },
      total: 100,
      identity: 10,
      overrides: [
        {
          requestsPerSecond: 40,
          clientRefs: [
            { namespace: 'shop', name: 'fast' },
            { namespace: 'ops', name: 'other' },
          ],
        },
      ],
    });
  });

  it('refuses unknown fields, wrong kinds and bad rates, naming each field', () => {
    const r = parseRateLimitPolicy(
      'f.yaml',
      doc({
        targetRef: { kind: 'Server', name: 'web', port: 80 },
        total: { requestsPerSecond: 0 },
        identity: { requestsPerSecond: 1.5, burst: 3 },
        overrides: [{ requestsPerSecond: 5, clientRefs: [{ kind: 'Pod', name: 'x' }] }],
        mode: 'strict',
      }),
      0,
    );
    expect(r.policy).toBeUndefined();
    expect(r.id).toBe('HTTPLocalRateLimitPolicy shop/web-limit');
    expect(fields(r).sort()).toEqual(
      [
        'spec.mode',
        'spec.targetRef.port',
        'spec.targetRef.kind',
        'spec.total.requestsPerSecond',
        'spec.identity.requestsPerSecond',
        'spec.identity.burst',
        'spec.overrides[0].clientRefs[0].kind',
      ].sort(),
    );
    expect(r.errors[0]!.file).toBe('f.yaml');
    expect(r.errors[0]!.object).toBe('HTTPLocalRateLimitPolicy shop/web-limit');
  });

  it('refuses a policy that limits nothing, and one without a target', () => {
    expect(
      fields(parseRateLimitPolicy('f', doc({ targetRef: { kind: 'Service', name: 'w' } }), 0)),
    ).toEqual(['spec']);
    expect(fields(parseRateLimitPolicy('f', doc({ total: { requestsPerSecond: 1 } }), 0))).toEqual([
      'spec.targetRef',
    ]);
  });
});

describe('manifests', () => {
  it('dispatch the kind to its parser', () => {
    const r = parseManifestFile(
      'limits.yaml',
      `apiVersion: weft.dev/v1alpha1
kind: HTTPLocalRateLimitPolicy
metadata: {name: l, namespace: shop}
spec:
  targetRef: {kind: Service, name: web}
  identity: {requestsPerSecond: 10}
---
apiVersion: weft.dev/v1alpha1
kind: HTTPLocalRateLimitPolicy
metadata: {name: bad, namespace: shop}
spec:
  targetRef: {kind: Service, name: web}
  identity: {requestsPerSecond: -1}
`,
    );
    expect(r.objects.map((o) => o.kind)).toEqual(['HTTPLocalRateLimitPolicy']);
    expect(r.rejected).toEqual(['HTTPLocalRateLimitPolicy shop/bad']);
    expect(r.errors.map((e) => `${e.file} ${e.object} ${e.field}`)).toEqual([
      'limits.yaml HTTPLocalRateLimitPolicy shop/bad spec.identity.requestsPerSecond',
    ]);
  });
});
