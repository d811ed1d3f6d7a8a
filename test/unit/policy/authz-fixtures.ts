// Policies are built through the parser, so tests exercise what a manifest would produce.
import { expect } from 'vitest';
import { evaluateAuthorization } from '../../../agent/src/policy/authz-eval.ts';
import { parseAuthorizationPolicy } from '../../../agent/src/sources/policy/authz-parse.ts';
import type {
  AuthorizationPolicy,
  AuthzDecision,
  AuthzInput,
  AuthzRequest,
} from '../../../agent/src/state/authz-types.ts';

export function ap(namespace: string, name: string, spec: unknown): AuthorizationPolicy {
  const doc = {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name, namespace },
    spec,
  };
  const r = parseAuthorizationPolicy('policies.yaml', doc, 0);
  expect(r.errors).toEqual([]);
  return r.policy!;
}

export const ui = {
  principal: 'cluster.local/ns/front/sa/ui',
  namespace: 'front',
  ip: '10.0.1.5',
};
export const plaintext = { ip: '10.0.1.5' };

export function get(path: string, extra: Partial<AuthzRequest> = {}): AuthzRequest {
  return { method: 'GET', path, host: 'web.shop', headers: {}, ...extra };
}

/** A request from ui to the web workload in shop, over HTTP unless http is overridden. */
export function evaluate(
  policies: readonly AuthorizationPolicy[],
  over: Partial<AuthzInput> = {},
): AuthzDecision {
  return evaluateAuthorization({
    policies,
    rootNamespace: 'weft-system',
    workload: { namespace: 'shop', labels: { app: 'web' } },
    source: ui,
    destination: { ip: '10.0.2.7', port: 8080 },
    http: get('/'),
    ...over,
  });
}

/** The verdict of one ALLOW rule on a request. */
export function allows(rule: unknown, over: Partial<AuthzInput> = {}): boolean {
  return evaluate([ap('shop', 'allow', { rules: [rule] })], over).verdict === 'allow';
}
