// sources/: where snapshots come from, and the parsers every source shares.
// The manifest directory (manifests/) and the cluster (kubernetes/) have faces of their own,
// so what needs one does not load the other (the Kubernetes client is large).
export type { SnapshotSource } from './source.ts';
