// Compilers: pure functions from a snapshot to the tables the datapath and the proxy apply.
export * from './enrollment.ts';
export * from './peers.ts';
export * from './services.ts';
