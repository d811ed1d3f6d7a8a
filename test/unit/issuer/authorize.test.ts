import { describe, expect, it } from 'vitest';
import { mayIssue } from '../../../agent/src/issuer/authorize.ts';
import { pod, snapshot } from '../compile/fixtures.ts';

const snap = snapshot({
  pods: [
    pod('shop', 'cart', { nodeName: 'n1', serviceAccountName: 'cart' }),
    pod('shop', 'web', { nodeName: 'n2', serviceAccountName: 'web' }),
  ],
});

describe('issuer authorization', () => {
  it('grants a node the service accounts of its own pods', () => {
    expect(mayIssue(snap, 'cluster.local', 'n1', 'spiffe://cluster.local/ns/shop/sa/cart')).toEqual(
      { ok: true },
    );
  });

  it("refuses a node the identity of another node's pod", () => {
    expect(mayIssue(snap, 'cluster.local', 'n1', 'spiffe://cluster.local/ns/shop/sa/web')).toEqual({
      ok: false,
      reason: 'node n1 runs no pod with service account shop/web',
    });
  });

  it('refuses a foreign trust domain and malformed IDs', () => {
    expect(
      mayIssue(snap, 'cluster.local', 'n1', 'spiffe://other.local/ns/shop/sa/cart'),
    ).toMatchObject({
      ok: false,
      reason: "trust domain other.local is not this issuer's (cluster.local)",
    });
    expect(mayIssue(snap, 'cluster.local', 'n1', 'https://cluster.local/ns/shop/sa/cart').ok).toBe(
      false,
    );
    expect(mayIssue(snap, 'cluster.local', 'n1', 'spiffe://cluster.local/cart').ok).toBe(false);
  });
});
