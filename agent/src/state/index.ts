// state/: the object model every source fills and every compiler reads.
export { clusterIPsOf, hostPort, isIPv6, podIPsOf, sameFamily } from './addresses.ts';
export {
  type AuthorizationPolicy,
  type AuthzAction,
  type AuthzApiVersion,
  type AuthzCondition,
  type AuthzDecision,
  type AuthzInput,
  type AuthzOperation,
  type AuthzRequest,
  type AuthzRule,
  type AuthzSource,
  type AuthzStage,
  authzApiVersions,
} from './authz-types.ts';
export {
  type Address,
  type Cidr,
  cidrProblem,
  contains,
  type Family,
  isSubnet,
  parseCidr,
  parseIP,
  toCidr,
  unmap,
} from './cidr.ts';
export { destinationRulesByService, ISTIO_OUTLIER_DEFAULTS } from './destination-rule-select.ts';
export type {
  ConnectionPool,
  DestinationRule,
  LbSimple,
  OutlierDetection,
  TrafficSettings,
} from './destination-rule-types.ts';
export type { FaultAbort, FaultDelay, HttpFault } from './fault-types.ts';
export {
  CGROUP_ANNOTATION,
  inMesh,
  isStrict,
  MESH_LABEL,
  MTLS_LABEL,
  type MtlsMode,
  NAMESPACE_NAME_LABEL,
  NETNS_ANNOTATION,
} from './labels.ts';
export {
  type EgressRule,
  type IngressRule,
  type IPBlock,
  type IPBlockPeer,
  isIPBlockPeer,
  type NetworkPolicy,
  type Peer,
  type PolicyPort,
  type PolicyRule,
  type PolicyType,
  type Protocol,
  policyId,
  type SelectorPeer,
} from './netpol-types.ts';
export type { HttpLocalRateLimitPolicy, RateLimitOverride } from './rate-limit-types.ts';
export { parentPorts, resolveBackend, routeKey } from './route-refs.ts';
export type {
  BackendRef,
  GrpcMethodMatch,
  GrpcRoute,
  GrpcRouteMatch,
  HeaderMatch,
  HeaderModifier,
  HttpRoute,
  HttpRouteMatch,
  PathMatch,
  PathModifier,
  ReferenceGrant,
  Route,
  RouteCondition,
  RouteFilter,
  RouteKind,
  RouteParentStatus,
  RouteRetry,
  RouteRule,
  RouteTimeouts,
  ServiceParentRef,
} from './route-types.ts';
export type { LabelSelector, LabelSelectorRequirement, SelectorOperator } from './selectors.ts';
export {
  type Endpoint,
  type ServiceTarget,
  selects,
  serviceEndpoints,
  slicesByService,
  targetPort,
} from './service-endpoints.ts';
export type {
  ClusterObjects,
  ContainerPort,
  EndpointSlice,
  IpFamilyPolicy,
  Labels,
  Namespace,
  ObjectError,
  Pod,
  Service,
  ServicePort,
  Snapshot,
} from './types.ts';
