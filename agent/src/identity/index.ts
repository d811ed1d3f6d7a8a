// Workload identity: SPIFFE IDs and X.509-SVIDs. The CA that signs them is ca/, a part
// that loads alone, so the agent does not carry the issuer's X.509 library.
export { CaClient } from './caclient.ts';
export { generateKeyAndCsr } from './keys.ts';
export { IdentityManager, type Svid as HeldSvid, tlsContext } from './manager.ts';
export type { PeerId } from './spiffe/spiffe.ts';
export {
  checkTrustDomain,
  parseSpiffeId,
  parseSpiffeUri,
  peerId,
  principal,
  spiffeId,
  trustDomainId,
  type WorkloadId,
} from './spiffe/spiffe.ts';
