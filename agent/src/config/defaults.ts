// Defaults every command, the agent and the tables share, each written once here.

/** The SPIFFE trust domain when none is given. */
export const TRUST_DOMAIN = 'cluster.local';

/** weft's own namespace: where mesh-wide AuthorizationPolicies, the CA Secret and the issuer live. */
export const WEFT_NAMESPACE = 'weft-system';

/** Where the agent serves its admin API (a unix socket, mode 0600). */
export const ADMIN_SOCKET = '/run/weft/agent.sock';
/** Where a running agent waits for the next one to take over (docs/upgrade.md). */
export const HANDOVER_SOCKET = '/run/weft/handover.sock';
