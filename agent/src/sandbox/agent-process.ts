// A node's agent as a process of the sandbox: started inside the node's netns and
// cgroup (through bin/weft, as a node runs it), restarted the way a DaemonSet update
// does it (a new agent takes over, the old one drains and exits) or the way a crash
// does (SIGKILL, then a new one).
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fetchStatus } from '../admin/index.ts';
import { repoRoot } from '../datapath/index.ts';
import { netnsPath } from './host.ts';
import type { NodeState } from './layout/state.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How long a new agent has to answer (its first snapshot, a handover included; a loaded machine takes seconds to start Node). */
export const AGENT_START_TIMEOUT_MS = 30_000;

export const alive = (pid: number | null): boolean => pid !== null && existsSync(`/proc/${pid}`);

/**
 * The weft command the sandbox runs: this checkout's, or WEFT_SANDBOX_AGENT_BIN (another
 * checkout's bin/weft, built: the benchmarks compare two trees' agents in one run).
 */
const agentBin = () => process.env.WEFT_SANDBOX_AGENT_BIN || `${repoRoot}bin/weft`;

/** Starts the agent with the node's recorded arguments; returns its pid at once. */
export function spawnAgent(
  n: NodeState,
  args: string[],
): { pid: number; exited: () => number | null } {
  const script = `echo $$ > '${join(n.cgroupRoot, 'agent')}/cgroup.procs' && exec nsenter --net='${netnsPath(n.netns)}' "$@"`;
  const logFd = openSync(n.log, 'a');
  const child = spawn('sh', ['-c', script, 'sh', agentBin(), ...args], {
    stdio: ['ignore', logFd, logFd],
    detached: true,
    env: { ...process.env, WEFT_NODE: process.execPath },
  });
  closeSync(logFd);
  child.unref();
  if (child.pid === undefined) throw new Error(`agent of ${n.name} did not start; see ${n.log}`);
  return { pid: child.pid, exited: () => child.exitCode };
}

/** Resolves once the agent with this pid answers on the node's admin socket. */
export async function waitForAgent(
  n: NodeState,
  pid: number,
  exited: () => number | null,
): Promise<void> {
  const until = performance.now() + AGENT_START_TIMEOUT_MS;
  while (performance.now() < until) {
    const code = exited();
    if (code !== null || !alive(pid))
      // The log goes with the sandbox's teardown: its tail goes into the error.
      throw new Error(
        `agent of ${n.name} exited (${code ?? 'gone'}): ${existsSync(n.log) ? readFileSync(n.log, 'utf8').slice(-2000) : n.log}`,
      );
    try {
      const s = await fetchStatus(n.adminSocket);
      // The socket path is the old agent's until the new one has taken over.
      if (!s.lifecycle || s.lifecycle.pid === pid) return;
    } catch {
      // not listening yet
    }
    await sleep(25);
  }
  throw new Error(
    `agent of ${n.name} did not answer within ${AGENT_START_TIMEOUT_MS / 1000} s; see ${n.log}`,
  );
}

/** Waits for a process to be gone. */
export async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const until = performance.now() + timeoutMs;
  while (alive(pid)) {
    if (performance.now() > until) return false;
    await sleep(25);
  }
  return true;
}

/** The drain grace period the node's agents run with, from their arguments (ms). */
export function graceOf(args: string[]): number {
  const i = args.indexOf('--drain-grace');
  return i >= 0 ? Number(args[i + 1]) * 1000 : 30_000;
}

export interface RestartResult {
  oldPid: number | null;
  pid: number;
  /** Wall-clock time (ms since the epoch) the new agent's process was spawned. */
  spawnedAt: number;
  /** From the new agent's start to the old one's exit (ms). */
  handoverMs: number;
}

/**
 * A DaemonSet update on one node: a new agent starts beside the running one, takes over
 * its listeners and relayed connections; resolves when the old one has drained and exited.
 * kill: SIGKILL the running agent first (a crash), then start a new one.
 */
export async function restartAgent(
  n: NodeState,
  args: string[],
  opts: { kill?: boolean } = {},
): Promise<RestartResult> {
  const oldPid = alive(n.agentPid) ? n.agentPid : null;
  const t0 = performance.now();
  if (opts.kill && oldPid !== null) {
    process.kill(oldPid, 'SIGKILL');
    await waitGone(oldPid, 5000);
  }
  const started = performance.now();
  const spawnedAt = Date.now();
  const child = spawnAgent(n, args);
  n.agentPid = child.pid;
  await waitForAgent(n, child.pid, child.exited);
  if (!opts.kill && oldPid !== null) {
    const limit = graceOf(args) + 15_000;
    if (!(await waitGone(oldPid, limit)))
      throw new Error(
        `the old agent of ${n.name} (pid ${oldPid}) is still running ${limit / 1000} s after the new one took over; see ${n.log}`,
      );
  }
  return {
    oldPid,
    pid: child.pid,
    spawnedAt,
    handoverMs: performance.now() - (opts.kill ? t0 : started),
  };
}
