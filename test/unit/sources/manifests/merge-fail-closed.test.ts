// AuthorizationPolicies weft cannot enforce fail closed; malformed files keep the last good state.
import { describe, expect, it } from 'vitest';
import { evaluateAuthorization } from '../../../../agent/src/policy/authz-eval.ts';
import { LastGood } from '../../../../agent/src/sources/manifests/merge.ts';
import {
  type ParseResult,
  parseManifestFile,
} from '../../../../agent/src/sources/manifests/parse.ts';
import type { Snapshot } from '../../../../agent/src/state/types.ts';
import { formatStatus } from '../../../../agent/src/telemetry/status.ts';

const policy = (action: string, source: string) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: guard, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  action: ${action}
  rules:
  - from: [{source: ${source}}]
`;

function dir(files: Record<string, string>): Map<string, ParseResult> {
  return new Map(Object.entries(files).map(([f, t]) => [f, parseManifestFile(f, t)]));
}

/** The verdict for a plaintext connection from 10.0.0.9 to the web (or db) workload. */
function verdict(s: Snapshot, app = 'web') {
  return evaluateAuthorization({
    policies: [...(s.authorizationPolicies?.values() ?? [])],
    rootNamespace: 'weft-system',
    workload: { namespace: 'shop', labels: { app } },
    source: { ip: '10.0.0.9' },
    destination: { ip: '10.0.0.2', port: 8080 },
  });
}

describe('AuthorizationPolicy weft cannot enforce', () => {
  it('denies what a new DENY policy with an unsupported field selects, and says so', () => {
    const lg = new LastGood();
    const r = lg.apply(dir({ 'p.yaml': policy('DENY', '{requestPrincipals: ["*"]}') }));
    const d = verdict(r.snapshot);
    expect(d.verdict).toBe('deny');
    expect(d.stages[0]?.reason).toBe(
      'denied by shop/guard, which fails closed (it denies all traffic to the workloads it selects): weft cannot enforce spec.rules[0].from[0].source.requestPrincipals',
    );
    expect(verdict(r.snapshot, 'db').verdict).toBe('allow');
    expect(r.errors.map((e) => [e.object, e.field, e.failsClosed])).toEqual([
      ['AuthorizationPolicy shop/guard', 'spec.rules[0].from[0].source.requestPrincipals', true],
    ]);
  });

  it('denies what a new policy rejected as invalid selects, having no last good version', () => {
    const lg = new LastGood();
    const r = lg.apply(dir({ 'p.yaml': policy('DENY', '{ipBlocks: ["10.0.0.300"]}') }));
    expect(verdict(r.snapshot).verdict).toBe('deny');
    expect(r.errors.map((e) => e.failsClosed)).toEqual([true]);
  });

  it('keeps the last good version of an invalid edit, and lets go of the stand-in once fixed', () => {
    const lg = new LastGood();
    lg.apply(dir({ 'p.yaml': policy('DENY', '{ipBlocks: ["10.0.0.9"]}') }));
    const bad = lg.apply(dir({ 'p.yaml': policy('DENY', '{ipBlocks: ["10.0.0.300"]}') }));
    expect(bad.snapshot.authorizationPolicies?.get('shop/guard')?.failClosed).toBeUndefined();
    expect(bad.errors.map((e) => e.failsClosed)).toEqual([undefined]);
    const odd = lg.apply(dir({ 'p.yaml': policy('DENY', '{ipBlocks: ["10.0.0.8"]}') }));
    expect(verdict(odd.snapshot).verdict).toBe('allow');
    // An unsupported field is not an edit to undo: it fails closed whatever came before.
    const unsup = lg.apply(dir({ 'p.yaml': policy('ALLOW', '{remoteIpBlocks: ["10.0.0.9"]}') }));
    expect(verdict(unsup.snapshot).verdict).toBe('deny');
  });

  it('keeps the last good state of a file that is not YAML at all', () => {
    const lg = new LastGood();
    lg.apply(dir({ 'p.yaml': policy('DENY', '{ipBlocks: ["10.0.0.9"]}') }));
    const r = lg.apply(dir({ 'p.yaml': 'spec: [unclosed\n' }));
    expect(verdict(r.snapshot).stages[0]?.reason).toBe('denied by DENY policy shop/guard rule 0');
    expect(verdict(r.snapshot, 'db').verdict).toBe('allow');
    expect(r.errors).toEqual([
      expect.objectContaining({ file: 'p.yaml', object: 'document 1', field: '' }),
    ]);
    expect(r.errors[0]?.message).toMatch(/^YAML syntax error at line 2, column 1/);
  });

  it('gives weft status a line per policy failing closed, apart from rejected objects', () => {
    const lg = new LastGood();
    const r = lg.apply(dir({ 'p.yaml': policy('DENY', '{requestPrincipals: ["*"]}') }));
    const text = formatStatus({
      node: 'n',
      layoutVersion: 1,
      snapshotVersion: 1,
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
    });
    expect(text).toContain(
      'policies failing closed (all traffic to the workloads they select is denied):\n  p.yaml: AuthorizationPolicy shop/guard: spec.rules[0].from[0].source.requestPrincipals: expected no requestPrincipals (not supported: request principals need JWT authentication), found a list',
    );
    expect(text).not.toContain('rejected objects');
  });
});

describe('NetworkPolicy weft cannot enforce', () => {
  const netpol = (ports: string, extra = '') => `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: calls, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}${extra}
  egress:
  - ports: [${ports}]
`;

  it('isolates what a new policy with an SCTP port selects, with no rules, and says so', () => {
    const r = new LastGood().apply(dir({ 'n.yaml': netpol('{protocol: SCTP, port: 9}') }));
    expect(r.snapshot.networkPolicies?.get('shop/calls')).toEqual({
      namespace: 'shop',
      name: 'calls',
      podSelector: { matchLabels: { app: 'web' } },
      // As Kubernetes defaults them: spec.egress was written.
      policyTypes: ['Ingress', 'Egress'],
      ingress: [],
      egress: [],
      failClosed: expect.stringContaining('spec.egress[0].ports[0].protocol: expected TCP or UDP'),
    });
    expect(r.errors.map((e) => [e.object, e.failsClosed])).toEqual([
      ['NetworkPolicy shop/calls', true],
    ]);
  });

  it('isolates the whole namespace, both ways, when the selector and types cannot be read', () => {
    const r = new LastGood().apply(
      dir({
        'n.yaml': netpol('{protocol: TCP, port: 80}', '\n  policyTypes: [Sideways]').replace(
          '{matchLabels: {app: web}}',
          '{matchLabels: {app: [web]}}',
        ),
      }),
    );
    expect(r.snapshot.networkPolicies?.get('shop/calls')).toMatchObject({
      podSelector: {},
      policyTypes: ['Ingress', 'Egress'],
      ingress: [],
      egress: [],
    });
  });

  it('keeps the last good version of an invalid edit, and drops the stand-in once fixed', () => {
    const lg = new LastGood();
    const good = lg.apply(dir({ 'n.yaml': netpol('{protocol: TCP, port: 80}') }));
    const kept = good.snapshot.networkPolicies?.get('shop/calls');
    expect(kept?.failClosed).toBeUndefined();
    const edited = lg.apply(dir({ 'n.yaml': netpol('{protocol: SCTP, port: 9}') }));
    expect(edited.snapshot.networkPolicies?.get('shop/calls')).toEqual(kept);
    expect(edited.errors.map((e) => e.failsClosed)).toEqual([undefined]);

    const fresh = new LastGood();
    fresh.apply(dir({ 'n.yaml': netpol('{protocol: SCTP, port: 9}') }));
    const fixed = fresh.apply(dir({ 'n.yaml': netpol('{protocol: UDP, port: 9}') }));
    expect(fixed.snapshot.networkPolicies?.get('shop/calls')?.failClosed).toBeUndefined();
    expect(fixed.snapshot.networkPolicies?.get('shop/calls')?.egress).toHaveLength(1);
  });
});
