// Who is asking the issuer: a node, proven by a credential. Two ways:
// - static node tokens (the sandbox, plain hosts): token → node name;
// - Kubernetes: the agent's projected service-account token, checked by a
//   TokenReview with the issuer's audience. The token must belong to the agent's
//   service account, and the node is the one the token is bound to (the
//   node-name extra of a bound token, else the node of the pod it is bound to).
import { createHash } from 'node:crypto';
import { AuthenticationV1Api, type KubeConfig } from '@kubernetes/client-node';

export type Authenticated = { node: string } | { error: string };

export interface NodeAuthenticator {
  authenticate(token: string): Promise<Authenticated>;
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
  if (status.audiences && !status.audiences.includes(policy.audience))
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

export interface TokenReviewOptions extends ReviewPolicy {
  readonly kubeConfig: KubeConfig;
  /** How long an answer is reused for the same token; default 60 s. */
  readonly cacheMs?: number;
}

export class TokenReviewAuthenticator implements NodeAuthenticator {
  private readonly api: AuthenticationV1Api;
  private readonly opts: TokenReviewOptions;
  private readonly cache = new Map<string, { at: number; answer: Authenticated }>();

  constructor(opts: TokenReviewOptions) {
    this.opts = opts;
    this.api = opts.kubeConfig.makeApiClient(AuthenticationV1Api);
  }

  async authenticate(token: string): Promise<Authenticated> {
    // Keyed by a digest: the cache must not become a store of live credentials.
    const key = createHash('sha256').update(token).digest('hex');
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && now - hit.at < (this.opts.cacheMs ?? 60_000)) return hit.answer;
    let status: ReviewStatus;
    try {
      const review = await this.api.createTokenReview({
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenReview',
          spec: { token, audiences: [this.opts.audience] },
        },
      });
      status = (review.status ?? {}) as ReviewStatus;
    } catch (e) {
      // Not cached: the API server may be back in a moment.
      return { error: `TokenReview failed: ${(e as Error).message}` };
    }
    const answer = nodeFromReview(status, this.opts);
    if (this.cache.size > 10_000) this.cache.clear();
    // A refusal is kept only briefly: the pod the token is bound to may be a moment from view.
    this.cache.set(key, {
      at: 'node' in answer ? now : now - (this.opts.cacheMs ?? 60_000) + 5000,
      answer,
    });
    return answer;
  }
}
