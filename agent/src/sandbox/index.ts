// sandbox/: the sandbox cluster.
export { lastJson, runInPod, spawnInPod } from './exec.ts';
export { Sandbox, teardown } from './sandbox.ts';
export { loadSandboxState, statePath } from './state.ts';
export { sandboxLayout } from './topology.ts';
