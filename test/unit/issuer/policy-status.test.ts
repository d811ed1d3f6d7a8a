// Accepted/Rejected conditions on weft's AuthorizationPolicies, written through
// the status subresource of a local list/watch server (not a real API server).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  acceptedCondition,
  type Condition,
  PolicyStatusWriter,
} from '../../../agent/src/issuer/kubernetes/policy-status.ts';
import { FakeApiServer, kubeConfigFor } from '../../support/fake-apiserver.ts';
import { until } from '../../support/until.ts';

const AV = 'security.weft.dev/v1alpha1';
const policy = (name: string, action: string) => ({
  apiVersion: AV,
  kind: 'AuthorizationPolicy',
  metadata: { namespace: 'shop', name },
  spec: { selector: { matchLabels: { app: 'cart' } }, action, rules: [{}] },
});

function accepted(api: FakeApiServer, name: string): Condition | undefined {
  const o = api.get('AuthorizationPolicy', AV, 'shop', name);
  return o?.status?.conditions?.find((c: Condition) => c.type === 'Accepted');
}

describe('acceptedCondition', () => {
  const now = new Date('2026-12-01T00:00:00Z');
  it('accepts a valid policy and names the generation it saw', () => {
    const c = acceptedCondition(
      { ...policy('p', 'ALLOW'), metadata: { namespace: 'shop', name: 'p', generation: 3 } },
      now,
    );
    expect(c).toMatchObject({ status: 'True', reason: 'Accepted', observedGeneration: 3 });
    expect(c.lastTransitionTime).toBe(now.toISOString());
  });

  it('rejects with the field and keeps the transition time while the verdict stands', () => {
    const bad = policy('p', 'MAYBE');
    const c = acceptedCondition(bad, now);
    expect(c).toMatchObject({ status: 'False', reason: 'Rejected' });
    expect(c.message).toMatch(/^spec\.action: /);
    const later = acceptedCondition(
      { ...bad, status: { conditions: [c] } },
      new Date('2026-12-02T00:00:00Z'),
    );
    expect(later.lastTransitionTime).toBe(now.toISOString());
  });

  it('says FailedClosed, and why, for a policy with a field weft cannot enforce', () => {
    const c = acceptedCondition(policy('p', 'CUSTOM'), now);
    expect(c).toMatchObject({ status: 'False', reason: 'FailedClosed' });
    expect(c.message).toBe(
      'spec.action: expected ALLOW, DENY or AUDIT, found CUSTOM: external authorizers are not supported; weft cannot enforce this, so the agents deny all traffic to the workloads the policy selects',
    );
    expect(acceptedCondition(policy('p', 'MAYBE'), now).message).toMatch(
      /; the agents keep the last good version in force, or deny all traffic to the workloads the policy selects when there is none$/,
    );
  });
});

describe('PolicyStatusWriter', () => {
  let api: FakeApiServer;
  let writer: PolicyStatusWriter | undefined;

  beforeEach(async () => {
    api = await new FakeApiServer().start();
  });
  afterEach(async () => {
    writer?.close();
    await api.close();
  });

  function start(): Promise<void> {
    const kc = kubeConfigFor(api.url);
    writer = new PolicyStatusWriter(kc, { backoff: { baseMs: 20, maxMs: 100 } });
    return writer.start();
  }

  it('marks each policy Accepted or Rejected, follows fixes, and stops writing once settled', async () => {
    api.apply(policy('good', 'ALLOW'));
    api.apply(policy('bad', 'SOMETIMES'));
    await start();
    await until('good accepted', () => accepted(api, 'good')?.status === 'True');
    await until('bad rejected', () => accepted(api, 'bad')?.status === 'False');
    expect(accepted(api, 'bad')?.message).toMatch(/spec\.action/);
    api.apply(policy('bad', 'DENY'));
    await until('bad fixed', () => accepted(api, 'bad')?.status === 'True');
    expect(accepted(api, 'bad')?.observedGeneration).toBe(2);
    // Its own writes come back as watch events; they must not cause more writes.
    await new Promise((r) => setTimeout(r, 200));
    await writer!.settled();
    const patches = () => api.requests.filter((r) => r.startsWith('PATCH')).length;
    const n = patches();
    await new Promise((r) => setTimeout(r, 200));
    expect(patches()).toBe(n);
    expect(n).toBe(3);
  });
});
