// The sandbox's state file: what `status`, `exec` and `down` read from any
// shell. Written atomically (rename), so a reader never sees half of it.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sandboxLayout } from './topology.ts';

export interface NodeState {
  name: string;
  index: number;
  netns: string;
  cgroupRoot: string;
  pinRoot: string;
  adminSocket: string;
  log: string;
  agentPid: number | null;
  /** The agent's handover socket: where the next agent takes over (docs/upgrades.md). */
  handoverSocket?: string;
  /** The agent's arguments, so that `weft sandbox restart` starts the same agent. */
  agentArgs?: string[];
}

export interface PodState {
  key: string;
  node: string;
  slot: number;
  ip: string;
  /** The pod's IPv6 address in a dual-stack sandbox. */
  ip6?: string;
  netns: string;
  cgroup: string;
}

export interface SandboxState {
  name: string;
  manifests: string;
  resolvedDir: string;
  controllerPid: number;
  ready: boolean;
  /** Nodes and pods have IPv6 addresses too; Services may have a ClusterIP per family. */
  dualStack?: boolean;
  nodes: NodeState[];
  pods: PodState[];
  /** Service key → ClusterIP (the first of its ClusterIPs). */
  services: Record<string, string>;
  /** Service key → every ClusterIP, one per family (dual-stack sandboxes only). */
  clusterIPs?: Record<string, string[]>;
  /** Errors the sandbox found in the manifests (bad node names, full CIDRs...). */
  problems: string[];
}

export function statePath(name: string): string {
  return join(sandboxLayout(name).stateDir, 'state.json');
}

export function saveSandboxState(s: SandboxState): void {
  const path = statePath(s.name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(`${path}.tmp`, `${JSON.stringify(s, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
}

export function loadSandboxState(name: string): SandboxState {
  const path = statePath(name);
  if (!existsSync(path)) throw new Error(`no sandbox named '${name}' is up (no ${path})`);
  return JSON.parse(readFileSync(path, 'utf8')) as SandboxState;
}
