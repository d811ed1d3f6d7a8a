// sandbox/: the sandbox cluster.
export { lastJson, runInPod, spawnInPod } from './exec.ts';
export { loadSandboxState, statePath } from './layout/state.ts';
export { sandboxLayout } from './layout/topology.ts';
export { Sandbox, teardown } from './sandbox.ts';
