// sandbox/: the sandbox cluster.

export { restartAgent } from './agent-process.ts';
export { lastJson, runInPod, spawnInPod } from './exec.ts';
export { loadSandboxState, saveSandboxState, statePath } from './layout/state.ts';
export { sandboxLayout } from './layout/topology.ts';
export { Sandbox, teardown } from './sandbox.ts';
