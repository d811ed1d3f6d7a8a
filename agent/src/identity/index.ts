// Workload identity: SPIFFE IDs, X.509-SVIDs, and the CA that signs them.
export {
  type CaFiles,
  type CaOptions,
  CertificateAuthority,
  generateIntermediateCA,
  generateRootCA,
  type SignOptions,
  type Svid,
} from './ca.ts';
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
export { type SvidVerification, verifySvid } from './verify.ts';
