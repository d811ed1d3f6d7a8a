// SPIFFE IDs alone: what the evaluators, compilers and the proxy need of
// identity without loading the X.509 stack (the rest of identity/).
export {
  checkTrustDomain,
  type PeerId,
  parseSpiffeId,
  parseSpiffeUri,
  peerId,
  principal,
  spiffeId,
  trustDomainId,
  type WorkloadId,
} from './spiffe.ts';
