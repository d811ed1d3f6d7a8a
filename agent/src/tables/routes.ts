// The L7 engine's route tables, compiled from the snapshot (compile/routes.ts) and
// swapped whole with the proxy's other tables. The request path only looks up here:
// regular expressions are compiled, rules are in the spec's precedence order, each
// backend carries its own weight (pickBackend in l7/route-match.ts walks them, at most
// 16 per rule), endpoints are resolved. The explaining evaluator (policy/) reads the
// same objects from state/ and must agree with a lookup here (a property test).
import type {
  FaultAbort,
  FaultDelay,
  RouteFilter,
  RouteKind,
  RouteRetry,
  RouteTimeouts,
  ServiceTarget,
} from '../state/index.ts';
import type { TrafficPolicies } from './traffic-policy.ts';

/** How a port's bytes are read; from appProtocol or the port's name, as Istio reads them. */
export type PortProtocol = 'tcp' | 'http' | 'http2' | 'grpc' | 'ws';

export interface CompiledStringMatch {
  readonly name: string;
  /** Exact when regex is absent. */
  readonly value: string;
  readonly regex?: RegExp;
}

export interface CompiledMatch {
  /** HTTPRoute: path; GRPCRoute: the `/service/method` path it stands for. */
  readonly pathType: 'Exact' | 'PathPrefix' | 'RegularExpression';
  readonly path: string;
  readonly pathRegex?: RegExp;
  readonly method?: string;
  readonly headers: readonly CompiledStringMatch[];
  readonly queryParams: readonly CompiledStringMatch[];
}

export interface CompiledBackend {
  /** `namespace/name` of the Service, and its port. */
  readonly service: string;
  readonly port: number;
  readonly weight: number;
  /** The Service port's endpoints (ready ones), as the Service table holds them. */
  readonly target: ServiceTarget;
  readonly filters: readonly RouteFilter[];
  /**
   * Set when the backendRef leads nowhere (no such Service or port, or another namespace's
   * Service without a ReferenceGrant): a request picked for it is answered 500, as the spec
   * says; `target` then has no endpoints.
   */
  readonly unresolved?: 'BackendNotFound' | 'RefNotPermitted';
}

/** A RequestMirror filter's backend, resolved like a backendRef (an unresolved one mirrors nothing). */
export interface CompiledMirror {
  readonly service: string;
  readonly port: number;
  /** 0–100: the share of requests copied. */
  readonly percent: number;
  readonly target: ServiceTarget;
  readonly unresolved?: 'BackendNotFound' | 'RefNotPermitted';
}

/** A rule's HTTPFault (its ExtensionRef filter), resolved in the route's namespace. */
export interface CompiledFault {
  /** `namespace/name` of the HTTPFault. */
  readonly name: string;
  readonly delay?: FaultDelay;
  readonly abort?: FaultAbort;
  /** No such HTTPFault: the rule's requests are answered 500 (the spec's unresolved filter). */
  readonly missing?: true;
}

export interface CompiledRule {
  /** `Kind namespace/name`, and the rule's index and name: what a verdict and a metric name. */
  readonly route: string;
  readonly kind: RouteKind;
  readonly rule: number;
  readonly ruleName?: string;
  readonly hostnames: readonly string[];
  /** One entry per match of the rule; the table lists (rule, match) pairs in precedence order. */
  readonly match: CompiledMatch;
  readonly filters: readonly RouteFilter[];
  readonly backends: readonly CompiledBackend[];
  /** Sum of the backends' weights; 0 (no backends, or all weight 0) answers 500. */
  readonly totalWeight: number;
  readonly timeouts?: RouteTimeouts;
  readonly retry?: RouteRetry;
  readonly fault?: CompiledFault;
  /** The rule's RequestMirror filters, in order, resolved. */
  readonly mirrors?: readonly CompiledMirror[];
}

/** One Service port's routes: the producer's, and each consumer namespace's (which take precedence for its clients). */
export interface ServicePortRoutes {
  /** `namespace/name` of the Service. */
  readonly service: string;
  readonly port: number;
  readonly protocol: PortProtocol;
  /** (rule, match) pairs in precedence order; empty: the Service's own endpoints, no route. */
  readonly producer: readonly CompiledRule[];
  /** Client namespace → its routes for this Service port. */
  readonly consumers: ReadonlyMap<string, readonly CompiledRule[]>;
}

export interface RouteTables {
  /** vipKey(ClusterIP, port) → that Service port's routes. Only Service ports read as HTTP, gRPC or with routes. */
  readonly byVip: ReadonlyMap<string, ServicePortRoutes>;
  /** `podIP:port` → how the destination port is read (inbound), for ports that are not plain TCP. */
  readonly inboundProtocol: ReadonlyMap<string, PortProtocol>;
  /** DestinationRules compiled per Service port (tables/traffic-policy.ts); absent: defaults everywhere. */
  readonly trafficPolicies?: TrafficPolicies;
}

export const emptyRoutes: RouteTables = { byVip: new Map(), inboundProtocol: new Map() };
