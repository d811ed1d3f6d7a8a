// Defaults every command, the agent and the tables share, each written once here.

/** The SPIFFE trust domain when none is given. */
export const TRUST_DOMAIN = 'cluster.local';

/**
 * The cluster's DNS domain (the kubelet's --cluster-domain default): a Service's name is
 * `name.namespace.svc.<domain>`. The same words as TRUST_DOMAIN, a different setting.
 */
export const CLUSTER_DOMAIN = 'cluster.local';

/** A Service's fully qualified name: the Host a client sends, Istio's destination_service. */
export function serviceHost(name: string, namespace: string): string {
  return `${name}.${namespace}.svc.${CLUSTER_DOMAIN}`;
}

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

/**
 * Where an agent under Kubernetes serves /healthz/* on a unix socket for its pod's exec
 * readiness probe (`weft probe ready`). In the chart /tmp is the pod's own emptyDir: not the
 * host's, not the other agent's of an update, so the probe reaches only its own container's
 * agent (docs/upgrades.md).
 */
export const HEALTH_SOCKET = '/tmp/weft-health.sock';
