// weft status lists the routes in force with their conditions per parent, and the refused
// ones with file, object and field, saying whether a last good version is in force.
import { describe, expect, it } from 'vitest';
import { refusedConditions, routeStatuses } from '../../../agent/src/compile/route-status.ts';
import { LastGood } from '../../../agent/src/sources/manifests/merge.ts';
import { parseManifestFile } from '../../../agent/src/sources/manifests/parse.ts';
import { type AgentStatus, formatStatus } from '../../../agent/src/telemetry/status.ts';
import { httpRoute, service } from '../compile/route-fixtures.ts';

const good = [
  service('shop', 'cart', '10.96.0.10', ['10.0.0.2'], { name: 'http' }),
  httpRoute(
    'shop',
    'cart',
    `  parentRefs: [{ group: "", kind: Service, name: cart }]\n  rules: [{ backendRefs: [{ name: cart, port: 80 }, { name: gone, port: 80 }] }]\n`,
  ),
].join('---\n');
const broken = good.replace('port: 80 }, { name: gone', 'port: 80, weight: x }, { name: gone');

describe('route status in weft status', () => {
  it('shows conditions, and a refusal with its last good version in force', () => {
    const m = new LastGood();
    m.apply(new Map([['/m/r.yaml', parseManifestFile('/m/r.yaml', good)]]));
    const r = m.apply(new Map([['/m/r.yaml', parseManifestFile('/m/r.yaml', broken)]]));
    const status: AgentStatus = {
      node: 'n1',
      layoutVersion: 1,
      snapshotVersion: r.snapshot.version,
      workloads: [],
      proxy: {
        outbound: {
          accepted: 0,
          active: 0,
          failed: 0,
          reset: 0,
          errors: 0,
          bytesFromClient: 0,
          bytesToClient: 0,
        },
        inbound: {
          accepted: 0,
          active: 0,
          failed: 0,
          reset: 0,
          errors: 0,
          bytesFromClient: 0,
          bytesToClient: 0,
        },
      },
      mtls: false,
      identities: [],
      rejected: r.errors,
      routes: routeStatuses(r.snapshot),
    };
    const text = formatStatus(status);
    expect(text).toContain(
      '  HTTPRoute shop/cart  shop/cart  Accepted, ResolvedRefs=False BackendNotFound: spec.rules[0].backendRefs[1]: no Service shop/gone (requests to such a backend are answered 500)',
    );
    expect(text).toContain(
      '  HTTPRoute shop/cart  refused  /m/r.yaml: spec.rules[0].backendRefs[0].weight: expected a whole number from 0 to 1000000, found the string "x" (its last good version is in force)',
    );
    // No retries yet: no retry section.
    expect(text).not.toContain('retries:');
    const withRetries = formatStatus({
      ...status,
      retries: {
        counts: { retried: 12, budget_exhausted: 3, overflow: 0, body_too_large: 1 },
        budgets: [
          {
            client: 'shop/web',
            service: 'shop/cart:80',
            used: 12,
            allowed: 104,
            outstanding: 1,
            exhausted: 3,
          },
        ],
      },
    });
    expect(withRetries).toContain(
      'retries: 12 retried, 3 over budget, 0 over maxRetries, 1 with bodies too large',
    );
    expect(withRetries).toMatch(/shop\/web\s+shop\/cart:80\s+12\/104\s+1\s+3/);
  });

  it('a refused route reads Accepted False (UnsupportedValue); a backend of another kind InvalidKind', () => {
    const p = parseManifestFile(
      'r.yaml',
      httpRoute(
        'shop',
        'r',
        '  parentRefs: [{ group: "", kind: Service, name: cart }]\n  rules: [{ backendRefs: [{ kind: Bucket, name: b, port: 1 }] }]\n',
      ),
    );
    expect(refusedConditions(p.errors).map((c) => `${c.type}=${c.status}/${c.reason}`)).toEqual([
      'Accepted=False/UnsupportedValue',
      'ResolvedRefs=False/InvalidKind',
    ]);
  });
});
