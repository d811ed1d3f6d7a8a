// Certificates: with an issuer, the agent holds an SVID for each identity its
// enrolled pods run as, and the trust bundle.
import type { NodeWorkload } from '../compile/index.ts';
import { CaClient, IdentityManager } from '../identity/index.ts';
import type { AgentOptions } from './options.ts';

/** The certificate manager; `changed` runs on a new certificate or bundle. */
export function startIdentities(
  issuer: NonNullable<AgentOptions['issuer']>,
  log: (line: string) => void,
  changed: () => void,
): IdentityManager {
  const identities = new IdentityManager({
    client: new CaClient(issuer),
    log,
  });
  identities.on('svid', changed);
  identities.on('bundle', changed);
  return identities;
}

/** The SPIFFE IDs the enrolled workloads run as. */
export function wantedIdentities(
  workloads: readonly NodeWorkload[],
  trustDomain: string,
): string[] {
  return workloads
    .filter((w) => w.enrolled)
    .map((w) => `spiffe://${trustDomain}/ns/${w.namespace}/sa/${w.serviceAccount}`);
}
