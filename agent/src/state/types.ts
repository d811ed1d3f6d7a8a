// The cluster as the agent sees it: one immutable, versioned snapshot that
// every compiler reads. Sources (manifest directory, Kubernetes) produce it.
import type { AuthorizationPolicy } from './authz-types.ts';
import type { DestinationRule } from './destination-rule-types.ts';
import type { HttpFault } from './fault-types.ts';
import type { NetworkPolicy } from './netpol-types.ts';
import type { HttpLocalRateLimitPolicy } from './rate-limit-types.ts';
import type { ReferenceGrant, Route } from './route-types.ts';
import type { Labels } from './selectors.ts';

export type { Labels } from './selectors.ts';

export interface Namespace {
  readonly name: string;
  readonly labels: Labels;
}

export interface ContainerPort {
  readonly name?: string;
  readonly containerPort: number;
  readonly protocol: 'TCP' | 'UDP' | 'SCTP';
}

export interface Pod {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Labels;
  readonly annotations: Labels;
  /** 'default' when the manifest names none, as Kubernetes does. */
  readonly serviceAccountName: string;
  readonly nodeName: string;
  readonly ports: readonly ContainerPort[];
  /** status.podIP: filled by the sandbox (or the cluster); absent until assigned. */
  readonly podIP?: string;
  /**
   * status.podIPs, when the source gave them: every address of the pod (one per
   * family), podIP first. Read them through podIPsOf() (state/addresses.ts).
   */
  readonly podIPs?: readonly string[];
  /** status.hostIP */
  readonly hostIP?: string;
}

export interface ServicePort {
  readonly name?: string;
  readonly port: number;
  /** A number, or the name of a container port; defaults to port. */
  readonly targetPort: number | string;
  readonly protocol: 'TCP' | 'UDP' | 'SCTP';
  /** spec.ports[].appProtocol: `http`, `http2`, `grpc`, `kubernetes.io/h2c`, `kubernetes.io/ws`, ... */
  readonly appProtocol?: string;
}

export interface Service {
  readonly namespace: string;
  readonly name: string;
  readonly selector: Labels;
  readonly ports: readonly ServicePort[];
  /** spec.clusterIP: filled by the sandbox (or the cluster); absent until assigned. */
  readonly clusterIP?: string;
  /** spec.clusterIPs, when given: one per family, clusterIP first. Read through clusterIPsOf(). */
  readonly clusterIPs?: readonly string[];
  /** spec.ipFamilies, when given: which families the Service wants ClusterIPs of, in order. */
  readonly ipFamilies?: readonly ('IPv4' | 'IPv6')[];
  /** spec.ipFamilyPolicy, when given (Kubernetes' default is SingleStack). */
  readonly ipFamilyPolicy?: IpFamilyPolicy;
  /** spec.trafficDistribution (`PreferClose`, ...): clients prefer endpoints near them. */
  readonly trafficDistribution?: string;
}

export type IpFamilyPolicy = 'SingleStack' | 'PreferDualStack' | 'RequireDualStack';

/** A Service's endpoints as a cluster's EndpointSlice controller publishes them. */
export interface EndpointSlice {
  readonly namespace: string;
  readonly name: string;
  /** The Service it belongs to (label kubernetes.io/service-name). */
  readonly service: string;
  /** Which family its addresses are: a dual-stack Service has a slice per family. */
  readonly addressType: 'IPv4' | 'IPv6';
  readonly ports: readonly {
    readonly name: string;
    readonly port: number;
    readonly protocol: string;
  }[];
  readonly endpoints: readonly {
    readonly addresses: readonly string[];
    /** conditions.ready; an unknown condition counts as ready, as kube-proxy does. */
    readonly ready: boolean;
    /** namespace/name of the pod behind it, when targetRef names one. */
    readonly pod?: string;
  }[];
}

export interface ClusterObjects {
  /** Keyed by name. */
  readonly namespaces: ReadonlyMap<string, Namespace>;
  /** Keyed by `namespace/name`. */
  readonly pods: ReadonlyMap<string, Pod>;
  /** Keyed by `namespace/name`. */
  readonly services: ReadonlyMap<string, Service>;
  /** Keyed by `namespace/name`; absent where a source has none. */
  readonly networkPolicies?: ReadonlyMap<string, NetworkPolicy>;
  /** Keyed by `namespace/name`; absent where a source has none. */
  readonly authorizationPolicies?: ReadonlyMap<string, AuthorizationPolicy>;
  /**
   * Keyed by `namespace/name`. Present when the source has a cluster's endpoint
   * controller behind it; Service endpoints then come from here (readiness
   * included) instead of from selecting pods.
   */
  readonly endpointSlices?: ReadonlyMap<string, EndpointSlice>;
  /** Gateway API HTTPRoute and GRPCRoute, keyed by `Kind namespace/name`; absent where a source has none. */
  readonly routes?: ReadonlyMap<string, Route>;
  /** Keyed by `namespace/name`. */
  readonly referenceGrants?: ReadonlyMap<string, ReferenceGrant>;
  /** weft.dev HTTPLocalRateLimitPolicy, keyed by `namespace/name`; absent where a source has none. */
  readonly rateLimits?: ReadonlyMap<string, HttpLocalRateLimitPolicy>;
  /** weft.dev HTTPFault, keyed by `namespace/name`; absent where a source has none. */
  readonly httpFaults?: ReadonlyMap<string, HttpFault>;
  /** Istio DestinationRules, keyed by `namespace/name`; absent where a source has none. */
  readonly destinationRules?: ReadonlyMap<string, DestinationRule>;
}

export interface Snapshot extends ClusterObjects {
  /** Increases by one with every change a source publishes. */
  readonly version: number;
}

/** A rejected object: where it is and what is wrong with it. */
export interface ObjectError {
  readonly file: string;
  /** `Kind namespace/name`, or `document N` when the object has no usable identity. */
  readonly object: string;
  /** Dotted path of the offending field, e.g. `spec.ports[0].port`; '' for the whole document. */
  readonly field: string;
  readonly message: string;
  /**
   * The object is in force as a deny of everything it selects (an AuthorizationPolicy weft
   * cannot enforce as written): fail closed, not the last good version.
   */
  readonly failsClosed?: boolean;
}
