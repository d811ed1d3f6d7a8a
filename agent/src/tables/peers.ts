// Every mesh pod in the cluster by IP, with its identity: whether a destination
// speaks HBONE and whom to expect there.
export interface MeshPeer {
  /** namespace/name */
  readonly key: string;
  /** The pod's primary address (status.podIP), where its HBONE server listens. */
  readonly ip: string;
  readonly node: string;
  readonly identity: string;
}
