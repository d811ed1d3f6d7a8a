// The Kubernetes way to prove a node: a TokenReview of the agent's projected
// service-account token (the verdict itself is nodeFromReview, in authenticate.ts).
// Its own file so that issuers without Kubernetes never load the API client.
import { createHash } from 'node:crypto';
import { AuthenticationV1Api, type KubeConfig } from '@kubernetes/client-node';
import {
  type Authenticated,
  type NodeAuthenticator,
  nodeFromReview,
  type ReviewPolicy,
  type ReviewStatus,
} from '../authenticate.ts';

export interface TokenReviewOptions extends ReviewPolicy {
  readonly kubeConfig: KubeConfig;
  /** How long an answer is reused for the same token; default 60 s. */
  readonly cacheMs?: number;
  /** Told each review's time in seconds, and whether the API server answered. */
  readonly onReview?: (seconds: number, answered: boolean) => void;
}

export class TokenReviewAuthenticator implements NodeAuthenticator {
  private readonly api: AuthenticationV1Api;
  private readonly opts: TokenReviewOptions;
  private readonly cache = new Map<string, { at: number; answer: Authenticated }>();
  private readonly inflight = new Map<string, Promise<Authenticated>>();

  constructor(opts: TokenReviewOptions) {
    this.opts = opts;
    this.api = opts.kubeConfig.makeApiClient(AuthenticationV1Api);
  }

  /** A cached answer for token, if it is still fresh. */
  private cached(token: string): { key: string; answer?: Authenticated } {
    // Keyed by a digest: the cache must not become a store of live credentials.
    const key = createHash('sha256').update(token).digest('hex');
    const hit = this.cache.get(key);
    const fresh = hit && Date.now() - hit.at < (this.opts.cacheMs ?? 60_000);
    return { key, answer: fresh ? hit.answer : undefined };
  }

  asksOut(token: string): boolean {
    return this.cached(token).answer === undefined;
  }

  async authenticate(token: string): Promise<Authenticated> {
    const { key, answer: hit } = this.cached(token);
    if (hit) return hit;
    // The same token asked for at once (an agent starting many pods) is reviewed once.
    const pending = this.inflight.get(key);
    if (pending) return pending;
    const p = this.review(token, key).finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  private async review(token: string, key: string): Promise<Authenticated> {
    const now = Date.now();
    const t0 = performance.now();
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
      this.opts.onReview?.((performance.now() - t0) / 1000, true);
    } catch (e) {
      this.opts.onReview?.((performance.now() - t0) / 1000, false);
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
