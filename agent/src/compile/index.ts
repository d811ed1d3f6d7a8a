// Compilers: pure functions from a snapshot to the tables the datapath and the proxy apply.

export type { MtlsMode } from './enrollment.ts';
export * from './enrollment.ts';
export { compileNode, type NodeSettings, type NodeTables } from './node.ts';
export * from './peers.ts';
export { emptyPolicy, type PolicyTables } from './policy.ts';
export { ROUTE_CONTROLLER, refusedConditions, routeStatus, routeStatuses } from './route-status.ts';
export * from './services.ts';
export {
  compilePolicy,
  compileTrafficPolicies,
  type DestinationRuleConflict,
  destinationRuleConflicts,
  OUTLIER_DEFAULTS,
} from './traffic-policy.ts';
