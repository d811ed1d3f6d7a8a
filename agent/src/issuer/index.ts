// issuer/: `weft issuer`, the CA and the API that signs SVIDs.
// What talks to the Kubernetes API has a face of its own (kubernetes/).

export { type CaStore, openCaStore } from './ca-store.ts';
export { IssuerServer } from './server.ts';
