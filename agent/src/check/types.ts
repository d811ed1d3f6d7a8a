// The shape of a check: a small object that asks a HostProbe about the machine
// and answers with a verdict. Checks never touch the machine themselves, so
// every one of them runs against a fabricated host in the unit tests.

import type { Mount } from '../datapath/index.ts';
import type { AgentStatus } from '../telemetry/index.ts';
import type { KernelProbe } from './features.ts';

export type Verdict = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  verdict: Verdict;
  detail: string;
  hint?: string;
  /** Kernel ids of the maps a load probe created (all gone once the check exits). */
  mapIds?: number[];
}

export type Category = 'kernel' | 'filesystems' | 'permissions' | 'probes' | 'agent';

export interface Check {
  id: string;
  title: string;
  category: Category;
  run(env: CheckEnv): CheckResult | Promise<CheckResult>;
}

/** What one BPF object did when loaded (never attached) into the kernel. */
export type LoadProbe =
  | {
      ok: true;
      programs: { name: string; type: string }[];
      maps: { name: string; type: string; id: number }[];
    }
  | { ok: false; error: string; verifierLog?: string };

/** What the pinned maps under a bpffs directory hold. */
export interface PinnedMaps {
  /** Per map of this build's layout: absent, or what is wrong with its pin. */
  maps: { name: string; present: boolean; problem?: string }[];
  /** meta[0].layout_version, when the meta pin could be read. */
  layoutVersion: number | null;
}

/** Everything the checks may learn about the machine. */
export interface HostProbe {
  kernelRelease(): string;
  /** Asks the running kernel what it offers (program, map, helper, attach and link types). */
  kernel(): KernelProbe;
  exists(path: string): boolean;
  /** The file's text, or null when it cannot be read. */
  readFile(path: string): string | null;
  mounts(): Mount[];
  /** Names of the effective capabilities (CAP_BPF, ...). */
  capabilities(): Set<string>;
  /** RLIMIT_MEMLOCK soft limit in bytes; null when unlimited. */
  memlockLimit(): number | null;
  /** The compiled BPF objects (*.bpf.o paths) in dir; none when dir is missing. */
  bpfObjects(dir: string): string[];
  /** Loads one object without pinning or attaching, and closes it again. Same answer on every call. */
  loadObject(path: string): LoadProbe;
  agentStatus(adminSocket: string): Promise<AgentStatus>;
  pinnedMaps(dir: string): PinnedMaps;
}

export interface CheckOptions {
  /** Only what can be checked before the agent is installed. */
  pre: boolean;
  adminSocket: string;
  /** The agent's pin directory. */
  bpffs: string;
}

export interface CheckEnv {
  host: HostProbe;
  options: CheckOptions;
}

export const ok = (detail: string): CheckResult => ({ verdict: 'ok', detail });
export const warn = (detail: string, hint?: string): CheckResult => ({
  verdict: 'warn',
  detail,
  ...(hint ? { hint } : {}),
});
export const fail = (detail: string, hint?: string): CheckResult => ({
  verdict: 'fail',
  detail,
  ...(hint ? { hint } : {}),
});
