// weft check: is this host (and its agent) able to run weft? Checks are small
// objects judged against a HostProbe; the real one is realHost().
export { type Ran, runChecks, selectChecks } from './checks.ts';
export { requireKernelFeatures } from './features.ts';
export { nativeKernelProbe, realHost } from './host.ts';
export { exitCode, renderText, toJson } from './render.ts';
export type {
  Check,
  CheckEnv,
  CheckOptions,
  CheckResult,
  HostProbe,
  LoadProbe,
  PinnedMaps,
  Verdict,
} from './types.ts';
