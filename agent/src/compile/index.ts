// Compilers: pure functions from a snapshot to the tables the datapath and the proxy apply.
export * from './enrollment.ts';
export { compileNode, type NodeSettings, type NodeTables } from './node.ts';
export * from './peers.ts';
export { emptyPolicy, type PolicyTables } from './policy.ts';
export * from './services.ts';
