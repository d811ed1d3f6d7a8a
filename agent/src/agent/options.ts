// What an agent is started with, and the compile settings that follow from it.
import type { MtlsMode, NodeSettings } from '../compile/index.ts';
import { TRUST_DOMAIN, WEFT_NAMESPACE } from '../config/index.ts';
import type { HboneLimits, InboundLimits, InheritListener, Keepalive } from '../proxy/index.ts';
import type { SnapshotSource } from '../sources/index.ts';
import type { AgentLifecycle } from '../telemetry/index.ts';

export interface AgentOptions {
  node: string;
  /** A manifest directory to read the cluster from, unless a source is given. */
  manifests?: string;
  /** Where the cluster comes from (the Kubernetes API); wins over manifests. */
  source?: SnapshotSource;
  /** mTLS mode of namespaces without a weft.dev/mtls label (default permissive). */
  mtlsDefault?: MtlsMode;
  cgroupRoot: string;
  pinRoot: string;
  splice?: boolean;
  /** The issuer (unix socket path or host:port) and this node's credential: enables mTLS. */
  issuer?: { address: string; token: string | (() => string); caPem?: string | (() => string) };
  trustDomain?: string;
  /** Where mesh-wide AuthorizationPolicies live (default weft-system). */
  rootNamespace?: string;
  /** HBONE PINGs: every intervalMs, a session unanswered for timeoutMs is dropped. */
  hboneKeepalive?: Keepalive;
  /** Bounds on HBONE handshakes and streams (default DEFAULT_HBONE_LIMITS). */
  hboneLimits?: HboneLimits;
  /** The L7 path's bounds per client connection at the destination (default DEFAULT_INBOUND_LIMITS). */
  httpLimits?: Partial<InboundLimits>;
  log?: (line: string) => void;
  /** Where routine news goes (--log-level debug): each snapshot applied. */
  debug?: (line: string) => void;
  /** Reset carried connections a policy change no longer allows (default off). */
  revokeOnPolicyChange?: boolean;
  /** Count the node's metrics (telemetry/metrics.ts; default on). */
  metrics?: boolean;
  /** One JSON line per connection and request: `stdout` or a file (default off). */
  accessLog?: string;
  /** Keep query strings of request paths in the access log (they may carry tokens). */
  accessLogQueryStrings?: boolean;
  /** Listening sockets handed over by the previous agent (handover/). */
  inherit?: InheritListener;
  /** Generation, start time and handover, for the status (agent/handover.ts). */
  lifecycle?: () => AgentLifecycle;
}

export function trustDomainOf(opts: AgentOptions): string {
  return opts.trustDomain ?? TRUST_DOMAIN;
}

export function rootNamespaceOf(opts: AgentOptions): string {
  return opts.rootNamespace ?? WEFT_NAMESPACE;
}

/** What compileNode needs to know about this node, from the agent's options. */
export function nodeSettings(opts: AgentOptions): NodeSettings {
  return {
    node: opts.node,
    trustDomain: trustDomainOf(opts),
    rootNamespace: rootNamespaceOf(opts),
    ...(opts.mtlsDefault ? { mtlsDefault: opts.mtlsDefault } : {}),
  };
}
