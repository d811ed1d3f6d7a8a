// What the engine needs from the proxy about one client connection: who sent
// it, which VIP port it was for, the tables in force, the source's egress
// view of a backend, and how to open an upstream connection from the source
// (HBONE, same-node hand-off or plaintext: the proxy's business, not the engine's).
import type { Duplex } from 'node:stream';
import type { Endpoint, ServiceTarget } from '../state/index.ts';
import type { RouteTables } from '../tables/index.ts';

/** One table generation as the engine reads it; each request reads one, whole. */
export interface L7View {
  readonly routes: RouteTables;
  /** `vip:port` → the Service port's endpoints. */
  readonly services: ReadonlyMap<string, ServiceTarget>;
}

export interface L7Source {
  /** `namespace/name` of the client workload, and its namespace (for consumer routes). */
  readonly workloadKey: string;
  readonly namespace: string;
  /** `vip:port` the app connected to, and that port (a redirect keeps it). */
  readonly vip: string;
  readonly port: number;
  /** Whether upstream connections from this source are mutual TLS (HBONE). */
  readonly mtls: boolean;
  /** The source workload's SPIFFE ID, when it has one (the source_principal of what it sends). */
  readonly principal?: string | null;
  /** The SPIFFE ID an endpoint's workload proves, when it is in the mesh (else undefined: plaintext). */
  peerPrincipal?(ep: Endpoint): string | undefined;
  view(): L7View;
  /** Whether an endpoint is on the source's own node (trafficDistribution: PreferClose). */
  near?(ep: Endpoint): boolean;
  /** The endpoints of `target` the source's egress policy allows (`key` names the backend port). */
  allowed(view: L7View, key: string, target: ServiceTarget): ServiceTarget;
  /** A new upstream connection from the source to the endpoint; throws when refused. */
  dial(ep: Endpoint): Duplex;
  /** The client connection ended (for the proxy's counters). */
  closed(): void;
}
