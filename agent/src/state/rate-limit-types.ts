// weft.dev/v1alpha1 HTTPLocalRateLimitPolicy: requests per second a Service's pods
// accept at the destination, in all, per client identity, and for named clients
// (Linkerd's shape). docs/resilience.md.

export interface RateLimitOverride {
  readonly requestsPerSecond: number;
  /** ServiceAccounts whose workloads share this override's limit. */
  readonly clientRefs: readonly { readonly namespace: string; readonly name: string }[];
}

export interface HttpLocalRateLimitPolicy {
  readonly namespace: string;
  readonly name: string;
  /** The Service (in the policy's namespace) whose pods are limited. */
  readonly targetRef: { readonly kind: 'Service'; readonly name: string };
  /** Requests per second for all clients together. */
  readonly total?: number;
  /** Requests per second for each client identity. */
  readonly identity?: number;
  readonly overrides: readonly RateLimitOverride[];
}
