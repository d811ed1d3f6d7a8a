// AuthorizationPolicy: parse and validate, then evaluate with an explanation.
export { evaluateAuthorization, policyId } from './authz-eval.ts';
export {
  matchHeader,
  matchHost,
  matchIpBlock,
  matchMethod,
  matchNamespace,
  matchPath,
  matchPort,
  matchPrincipal,
  matchString,
} from './authz-match.ts';
export {
  type AuthzParseResult,
  isAuthorizationPolicy,
  parseAuthorizationPolicy,
} from './authz-parse.ts';
export * from './authz-types.ts';
