// Where a sandbox's things are (names, addresses, pin and state paths) and its
// state file: what the commands need to find a running sandbox, without
// loading the sandbox itself.
export { loadSandboxState, statePath } from './state.ts';
export { sandboxLayout } from './topology.ts';
