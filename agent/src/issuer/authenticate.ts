// Who is asking the issuer: a node, proven by a credential. Two ways:
// - static node tokens (the sandbox, plain hosts): token → node name;
// - Kubernetes: the agent's projected service-account token, checked by a
//   TokenReview with the issuer's audience. The token must belong to the agent's
//   service account, and the node is the one the token is bound to (the
//   node-name extra of a bound token, else the node of the pod it is bound to).

export type Authenticated = { node: string } | { error: string };

export interface NodeAuthenticator {
  authenticate(token: string): Promise<Authenticated>;
  /** Whether authenticating this token now asks someone else (a TokenReview); absent: never. */
  asksOut?(token: string): boolean;
}

export function staticTokens(tokens: ReadonlyMap<string, string>): NodeAuthenticator {
  return {
    async authenticate(token) {
      const node = tokens.get(token);
      return node ? { node } : { error: 'unknown node credential' };
    },
  };
}

export const NODE_NAME_EXTRA = 'authentication.kubernetes.io/node-name';
export const POD_NAME_EXTRA = 'authentication.kubernetes.io/pod-name';

export interface ReviewStatus {
  authenticated?: boolean;
  error?: string;
  audiences?: string[];
  user?: { username?: string; extra?: Record<string, string[]> };
}

export interface ReviewPolicy {
  /** `namespace:name` of the agent's service account. */
  readonly agentServiceAccount: string;
  readonly audience: string;
  /** The node a pod runs on, from the issuer's view of the cluster. */
  readonly podNode: (namespace: string, name: string) => string | undefined;
}

/** A TokenReview's answer → the node it proves, or why it proves none. Pure. */
export function nodeFromReview(status: ReviewStatus, policy: ReviewPolicy): Authenticated {
  if (!status.authenticated)
    return { error: `token rejected: ${status.error ?? 'not authenticated'}` };
  // No audiences in the answer means the API server's own: not ours.
  if (!status.audiences?.includes(policy.audience))
    return { error: `token is not for audience ${policy.audience}` };
  const want = `system:serviceaccount:${policy.agentServiceAccount}`;
  const user = status.user?.username ?? '';
  if (user !== want) return { error: `${user || 'anonymous'} is not the agent (${want})` };
  const extra = status.user?.extra ?? {};
  const node = extra[NODE_NAME_EXTRA]?.[0];
  if (node) return { node };
  const pod = extra[POD_NAME_EXTRA]?.[0];
  if (pod) {
    const ns = policy.agentServiceAccount.split(':')[0]!;
    const n = policy.podNode(ns, pod);
    return n
      ? { node: n }
      : { error: `token is bound to pod ${ns}/${pod}, which runs on no known node` };
  }
  return { error: 'token is not bound to a pod or node (use a projected service-account token)' };
}
