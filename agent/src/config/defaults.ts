// Defaults every command, the agent and the tables share, each written once here.

/** The SPIFFE trust domain when none is given. */
export const TRUST_DOMAIN = 'cluster.local';

/** weft's own namespace: where mesh-wide AuthorizationPolicies, the CA Secret and the issuer live. */
export const WEFT_NAMESPACE = 'weft-system';

/** weft's runtime directory: the admin socket, the sandbox's state. */
export const RUN_ROOT = '/run/weft';

/** Where the agent serves its admin API (a unix socket, mode 0600). */
export const ADMIN_SOCKET = `${RUN_ROOT}/agent.sock`;

/** Where bpffs is mounted. */
export const BPFFS = '/sys/fs/bpf';

/** The agent's pin directory under bpffs (the sandbox pins each cluster under it). */
export const PIN_ROOT = `${BPFFS}/weft`;
/** Where a running agent waits for the next one to take over (docs/upgrades.md). */
export const HANDOVER_SOCKET = `${RUN_ROOT}/handover.sock`;
