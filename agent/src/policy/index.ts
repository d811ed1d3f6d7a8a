// policy/: the pure evaluators and the trace.
export { applies, evaluateAuthorization } from './authz-eval.ts';
export { hasHttpFields, servesHttp } from './authz-l7.ts';
export { matchPort } from './authz-match.ts';
export { podEndpoint } from './endpoint.ts';
export { normalizeTarget } from './http-path.ts';
export { evaluateNetworkPolicies } from './netpol-eval.ts';
export { selects } from './selectors.ts';
export {
  allowedTarget,
  decide,
  type EgressView,
  egressView,
  type JudgedEndpoint,
  judgeEndpoints,
  subjectOf,
} from './service-endpoints.ts';
export { type Trace, type TraceStage, tracePolicy } from './trace.ts';
export { parseTraceQuery, traceQueryString, traceRequest } from './trace-query.ts';
