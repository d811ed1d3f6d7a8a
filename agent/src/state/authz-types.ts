// AuthorizationPolicy as weft reads it: the fields and semantics of Istio's
// security.istio.io/v1 AuthorizationPolicy. An empty list means the field is not
// set, as in Istio's protobuf; parsing has already checked every value.
import type { Labels } from './selectors.ts';

export type AuthzAction = 'ALLOW' | 'DENY' | 'AUDIT';

/** The API versions an AuthorizationPolicy is accepted under. */
export const authzApiVersions = [
  'security.istio.io/v1',
  'security.istio.io/v1beta1',
  'security.weft.dev/v1alpha1',
] as const;

export type AuthzApiVersion = (typeof authzApiVersions)[number];

export interface AuthorizationPolicy {
  readonly namespace: string;
  readonly name: string;
  readonly apiVersion: AuthzApiVersion;
  /** Absent, or with no labels: every workload of the namespace (every workload, in the root namespace). */
  readonly selector?: { readonly matchLabels: Labels };
  readonly action: AuthzAction;
  /**
   * Absent (undefined) or [] both mean no rule: such a policy matches nothing, so an ALLOW
   * policy without rules allows nothing. `[{}]` is one rule that matches everything.
   */
  readonly rules: readonly AuthzRule[] | undefined;
  /**
   * Set when weft cannot enforce the policy as written (a field it does not support, or
   * a new policy it rejects): why. Such an ALLOW or DENY policy denies all traffic to the
   * workloads it selects (fail closed), with `rules` undefined; an AUDIT one audits
   * nothing. docs/authorization-policy.md has the rule.
   */
  readonly failClosed?: string;
}

/** Matches when every field present matches: any `from` entry, any `to` entry, every `when`. */
export interface AuthzRule {
  readonly from?: readonly AuthzSource[];
  readonly to?: readonly AuthzOperation[];
  readonly when?: readonly AuthzCondition[];
}

/** Peer identity and address; principals are `<trust-domain>/ns/<ns>/sa/<sa>` (no spiffe://). */
export interface AuthzSource {
  readonly principals: readonly string[];
  readonly notPrincipals: readonly string[];
  readonly namespaces: readonly string[];
  readonly notNamespaces: readonly string[];
  /** IPs or CIDRs, as written. */
  readonly ipBlocks: readonly string[];
  readonly notIpBlocks: readonly string[];
}

export interface AuthzOperation {
  /** Decimal port numbers as strings, as Istio spells them. */
  readonly ports: readonly string[];
  readonly notPorts: readonly string[];
  readonly methods: readonly string[];
  readonly notMethods: readonly string[];
  readonly paths: readonly string[];
  readonly notPaths: readonly string[];
  readonly hosts: readonly string[];
  readonly notHosts: readonly string[];
}

/** key: source.ip, source.namespace, source.principal, destination.port or request.headers[<name>]. */
export interface AuthzCondition {
  readonly key: string;
  readonly values: readonly string[];
  readonly notValues: readonly string[];
}

export type AuthzStageName = 'DENY' | 'ALLOW' | 'AUDIT';

export type AuthzStageResult =
  | 'match'
  | 'no-match'
  | 'not-applicable'
  | 'default-deny'
  | 'default-allow';

export interface AuthzStage {
  readonly stage: AuthzStageName;
  /** `namespace/name` of the deciding policy, when one decided. */
  readonly policy?: string;
  /** Index in spec.rules of the deciding rule. */
  readonly rule?: number;
  readonly result: AuthzStageResult;
  readonly reason: string;
}

export interface AuthzDecision {
  readonly verdict: 'allow' | 'deny';
  /** DENY, then ALLOW (absent when DENY decided: it is not evaluated), then AUDIT. */
  readonly stages: readonly AuthzStage[];
  /** Every AUDIT rule that matched; they never change the verdict. */
  readonly audited: readonly { readonly policy: string; readonly rule: number }[];
}

export interface AuthzRequest {
  readonly method: string;
  /** As sent (`/a/b?q=1`): query and fragment are not part of what paths match. */
  readonly path: string;
  /** The :authority / Host header, port included when the client sent one. */
  readonly host: string;
  /** Header names in any case; repeated headers joined with ','. */
  readonly headers: Readonly<Record<string, string>>;
}

export interface AuthzInput {
  readonly policies: readonly AuthorizationPolicy[];
  /** Policies here apply mesh-wide (Istio's root namespace, istio-system by default). */
  readonly rootNamespace: string;
  readonly workload: { readonly namespace: string; readonly labels: Labels };
  /** principal and namespace come from the verified SVID; both absent for a plaintext peer. */
  readonly source: {
    readonly principal?: string;
    readonly namespace?: string;
    readonly ip: string;
  };
  readonly destination: { readonly ip: string; readonly port: number };
  /** Absent for TCP traffic the proxy does not parse as HTTP. */
  readonly http?: AuthzRequest;
}
