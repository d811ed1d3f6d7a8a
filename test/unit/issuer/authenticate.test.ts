// What a TokenReview answer proves about the asking node.
import { describe, expect, it } from 'vitest';
import { nodeFromReview, type ReviewStatus } from '../../../agent/src/issuer/authenticate.ts';

const policy = {
  agentServiceAccount: 'weft-system:weft-agent',
  audience: 'weft-issuer',
  podNode: (ns: string, name: string) =>
    ns === 'weft-system' && name === 'weft-agent-abc' ? 'node-a' : undefined,
};
const agent = (extra: Record<string, string[]>, audiences: string[] | null = ['weft-issuer']) =>
  ({
    authenticated: true,
    ...(audiences ? { audiences } : {}),
    user: { username: 'system:serviceaccount:weft-system:weft-agent', extra },
  }) satisfies ReviewStatus;

describe('nodeFromReview', () => {
  it('takes the node a bound token names', () => {
    expect(
      nodeFromReview(agent({ 'authentication.kubernetes.io/node-name': ['node-b'] }), policy),
    ).toEqual({ node: 'node-b' });
  });

  it('falls back to the node of the agent pod the token is bound to', () => {
    expect(
      nodeFromReview(
        agent({ 'authentication.kubernetes.io/pod-name': ['weft-agent-abc'] }),
        policy,
      ),
    ).toEqual({ node: 'node-a' });
    expect(
      nodeFromReview(agent({ 'authentication.kubernetes.io/pod-name': ['gone'] }), policy),
    ).toMatchObject({
      error: expect.stringMatching(/bound to pod weft-system\/gone, which runs on no known node/),
    });
  });

  it('refuses an answer without our audience, even one with none (the API server’s own)', () => {
    const extra = { 'authentication.kubernetes.io/node-name': ['node-a'] };
    expect(nodeFromReview(agent(extra, null), policy)).toMatchObject({
      error: expect.stringMatching(/audience/),
    });
    expect(nodeFromReview(agent(extra, ['api']), policy)).toMatchObject({
      error: expect.stringMatching(/audience/),
    });
  });

  it('refuses other service accounts, unbound tokens and failed reviews', () => {
    expect(
      nodeFromReview(
        {
          authenticated: true,
          audiences: ['weft-issuer'],
          user: {
            username: 'system:serviceaccount:shop:cart',
            extra: { 'authentication.kubernetes.io/node-name': ['node-a'] },
          },
        },
        policy,
      ),
    ).toMatchObject({ error: expect.stringMatching(/is not the agent/) });
    expect(nodeFromReview(agent({}), policy)).toMatchObject({
      error: expect.stringMatching(/not bound/),
    });
    expect(nodeFromReview({ authenticated: false, error: 'expired' }, policy)).toEqual({
      error: 'token rejected: expired',
    });
  });
});
