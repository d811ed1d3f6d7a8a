// AuthorizationPolicy: parse and validate, then evaluate with an explanation.

export {
  type AuthzParseResult,
  isAuthorizationPolicy,
  parseAuthorizationPolicy,
} from '../sources/policy/authz-parse.ts';
export * from '../state/authz-types.ts';
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
