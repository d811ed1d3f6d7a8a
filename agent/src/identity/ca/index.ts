// The certificate authority and the checks on what it issues: the issuer's side of
// identity. A part that loads alone: it brings @peculiar/x509, which the agent, needing
// only a key and a CSR per renewal (../keys.ts), does not load.
export {
  type CaFiles,
  type CaOptions,
  CertificateAuthority,
  generateIntermediateCA,
  generateRootCA,
  type SignOptions,
  type Svid,
} from './ca.ts';
export { type SvidVerification, verifySvid } from './verify.ts';
