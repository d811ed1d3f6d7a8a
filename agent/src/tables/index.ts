// tables/: what the compilers hand to the datapath and the proxy, and the kernel's map layout.

export type {
  AuthzTable,
  CompiledAuthzRule,
  CompiledCondition,
  CompiledOperation,
  CompiledSource,
  EgressDecisions,
  IngressDecisions,
  Lists,
  NamespaceMatcher,
  NetpolRuleRef,
  NetpolTable,
  NodeDecisions,
  PortDecisions,
  PrefixLevel,
  StringMatcher,
} from './decisions.ts';
export { emptyDecisions } from './decisions.ts';
export * as layout from './layout.ts';
export {
  constants,
  Event,
  type FieldType,
  LAYOUT_VERSION,
  type Layout,
  layoutSize,
  type MapSpec,
  type MapType,
  maps,
  type PlacedField,
  place,
  type Scalar,
  type StructSpec,
  structs,
} from './layout.ts';
export { allowingRule } from './netpol-lookup.ts';
export {
  PEER_PROTOCOLS,
  type PeerEntry,
  type PeerPorts,
  type PeerProtocol,
  type PeerTable,
} from './peer-table.ts';
export type { MeshPeer } from './peers.ts';
export { emptyPolicy, type PolicyTables } from './policy.ts';
export { portProtocol } from './port-protocol.ts';
export type { RateLimitTable } from './rate-limits.ts';
export type {
  CompiledBackend,
  CompiledFault,
  CompiledMatch,
  CompiledMirror,
  CompiledRule,
  CompiledStringMatch,
  PortProtocol,
  RouteTables,
  ServicePortRoutes,
} from './routes.ts';
export { emptyRoutes } from './routes.ts';
export { type ServiceTarget, vipKey } from './services.ts';
export type {
  CompiledOutlierDetection,
  CompiledTrafficPolicy,
  LbPolicy,
  TrafficPolicies,
} from './traffic-policy.ts';
export type { NodeWorkload } from './workloads.ts';
