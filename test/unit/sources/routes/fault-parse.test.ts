// HTTPFault (weft.dev/v1alpha1) through the manifest parser, an ExtensionRef to it from a
// route rule, the rule it compiles to (resolved, or missing: 500 and ResolvedRefs False),
// and the draw the engine makes per request.
import { describe, expect, it } from 'vitest';
import { routeStatuses } from '../../../../agent/src/compile/route-status.ts';
import { compileRoutes } from '../../../../agent/src/compile/routes.ts';
import {
  abortGrpcStatus,
  abortStatus,
  faultAbort,
  faultDelay,
} from '../../../../agent/src/l7/faults.ts';
import { parseManifestFile } from '../../../../agent/src/sources/manifests/index.ts';
import { cluster, httpRoute, service } from '../../compile/route-fixtures.ts';

const fault = (spec: string, name = 'f') => `apiVersion: weft.dev/v1alpha1
kind: HTTPFault
metadata: { name: ${name}, namespace: shop }
spec:
${spec}`;

const errors = (yaml: string) =>
  parseManifestFile('faults.yaml', yaml).errors.map((e) => `${e.object} ${e.field}: ${e.message}`);

describe('HTTPFault', () => {
  it('reads delay and abort, percentages as floats (100 when absent), gRPC statuses by name', () => {
    const r = parseManifestFile(
      'faults.yaml',
      fault(`  delay: { fixedDelay: 100ms, percentage: 12.5 }
  abort: { httpStatus: 503, grpcStatus: UNAVAILABLE }
`),
    );
    expect(r.errors).toEqual([]);
    expect(r.objects[0]).toEqual({
      kind: 'HTTPFault',
      value: {
        namespace: 'shop',
        name: 'f',
        delay: { ms: 100, percent: 12.5 },
        abort: { httpStatus: 503, grpcStatus: 14, percent: 100 },
      },
    });
  });

  it('refuses what is wrong or unknown, naming file, object and field', () => {
    const e = errors(
      fault(`  delay: { fixedDelay: soon, percentage: 101 }
  abort: { grpcStatus: NOPE, percent: 5 }
  retry: {}
`),
    );
    expect(e.map((x) => x.split(':')[0])).toEqual([
      'HTTPFault shop/f spec.retry',
      'HTTPFault shop/f spec.delay.fixedDelay',
      'HTTPFault shop/f spec.delay.percentage',
      'HTTPFault shop/f spec.abort.percent',
      'HTTPFault shop/f spec.abort.grpcStatus',
    ]);
    expect(errors(fault('  abort: { percentage: 5 }\n'))[0]).toContain(
      'expected httpStatus or grpcStatus, found neither',
    );
    expect(errors(fault('  {}\n'))[0]).toContain('expected delay, abort or both');
    expect(parseManifestFile('faults.yaml', fault('  abort: {}\n')).rejected).toEqual([
      'HTTPFault shop/f',
    ]);
  });

  it('is named by a rule ExtensionRef (weft.dev/HTTPFault only, and not on a backendRef)', () => {
    const route = (filter: string) =>
      httpRoute(
        'shop',
        'r',
        `  parentRefs: [{ group: "", kind: Service, name: cart }]
  rules:
    - filters: [${filter}]
      backendRefs: [{ name: cart, port: 80 }]
`,
      );
    expect(
      errors(
        route(
          '{ type: ExtensionRef, extensionRef: { group: weft.dev, kind: HTTPFault, name: f } }',
        ),
      ),
    ).toEqual([]);
    expect(
      errors(
        route(
          '{ type: ExtensionRef, extensionRef: { group: other.io, kind: HTTPFault, name: f } }',
        ),
      )[0],
    ).toContain('expected group weft.dev and kind HTTPFault');
    const onBackend = errors(
      httpRoute(
        'shop',
        'r',
        `  parentRefs: [{ group: "", kind: Service, name: cart }]
  rules:
    - backendRefs:
        - name: cart
          port: 80
          filters: [{ type: ExtensionRef, extensionRef: { group: weft.dev, kind: HTTPFault, name: f } }]
`,
      ),
    );
    expect(onBackend[0]).toContain('(not allowed here)');
  });

  it('compiles into the rule, or leaves it missing (the rule answers 500, ResolvedRefs False)', () => {
    const routes = `${service('shop', 'cart', '10.96.0.10', ['10.0.0.2'], { name: 'http' })}---
${httpRoute(
  'shop',
  'r',
  `  parentRefs: [{ group: "", kind: Service, name: cart }]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /a } }]
      filters: [{ type: ExtensionRef, extensionRef: { group: weft.dev, kind: HTTPFault, name: f } }]
      backendRefs: [{ name: cart, port: 80 }]
    - filters: [{ type: ExtensionRef, extensionRef: { group: weft.dev, kind: HTTPFault, name: gone } }]
      backendRefs: [{ name: cart, port: 80 }]
`,
)}`;
    const snap = cluster(
      `${routes}---\n${fault('  abort: { httpStatus: 418, percentage: 50 }\n')}`,
    );
    const rules = compileRoutes(snap).byVip.get('10.96.0.10:80')!.producer;
    expect(rules[0]!.fault).toEqual({ name: 'shop/f', abort: { httpStatus: 418, percent: 50 } });
    expect(rules[1]!.fault).toEqual({ name: 'shop/gone', missing: true });
    const cond = routeStatuses(snap)[0]!.parents[0]!.conditions.find(
      (c) => c.type === 'ResolvedRefs',
    )!;
    expect(cond).toMatchObject({ status: 'False', reason: 'BackendNotFound' });
    expect(cond.message).toContain('spec.rules[1].filters[0]: no HTTPFault shop/gone');
  });
});

describe('fault draws', () => {
  const seq = (...xs: number[]) => {
    let i = 0;
    return () => xs[i++ % xs.length]!;
  };
  it('delays and aborts the drawn share, apart', () => {
    const f = {
      name: 'shop/f',
      delay: { ms: 100, percent: 50 },
      abort: { httpStatus: 503, percent: 25 },
    };
    expect(faultDelay(f, seq(0.49))).toBe(100);
    expect(faultDelay(f, seq(0.5))).toBe(0);
    expect(faultAbort(f, seq(0.2))).toBe(f.abort);
    expect(faultAbort(f, seq(0.3))).toBeUndefined();
    // 0% never draws; 100% never asks.
    const never = () => {
      throw new Error('no draw expected');
    };
    expect(faultDelay({ name: 'x', delay: { ms: 5, percent: 100 } }, never)).toBe(5);
    expect(
      faultAbort({ name: 'x', abort: { httpStatus: 500, percent: 0 } }, never),
    ).toBeUndefined();
    let hits = 0;
    for (let i = 0; i < 10_000; i++) if (faultAbort(f, Math.random)) hits++;
    expect(Math.abs(hits / 10_000 - 0.25)).toBeLessThan(0.03);
  });

  it('answers HTTP with httpStatus (or the equivalent of grpcStatus), gRPC with grpcStatus (or the equivalent)', () => {
    expect(abortStatus({ httpStatus: 418, percent: 1 }, false)).toBe(418);
    expect(abortStatus({ grpcStatus: 14, percent: 1 }, false)).toBe(503);
    expect(abortGrpcStatus({ grpcStatus: 8, percent: 1 })).toBe(8);
    expect(abortGrpcStatus({ httpStatus: 503, percent: 1 })).toBe(14);
  });
});
