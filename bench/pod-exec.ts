// Running any program as a pod would (wrk, nginx): joined to the pod's cgroup,
// so the mesh's cgroup hooks see its sockets, and inside the pod's netns.
// Every child is remembered so an interrupted run can stop it.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export interface Pod {
  netns: string;
  cgroup: string;
  ip: string;
}

const running = new Set<ChildProcess>();

/** A program's path, from PATH or the sbin directories (where apt puts nginx); null if absent. */
export function findCommand(cmd: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const d of dirs) {
    if (d && existsSync(join(d, cmd))) return join(d, cmd);
  }
  return null;
}

export function spawnInPod(pod: Pod, argv: string[]): ChildProcess {
  const script = `echo $$ > '${pod.cgroup}/cgroup.procs' && exec nsenter --net='${pod.netns}' "$@"`;
  const child = spawn('sh', ['-c', script, 'sh', ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.on('exit', () => running.delete(child));
  return child;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs argv in the pod to its end; SIGKILL after timeoutMs. */
export function runInPod(pod: Pod, argv: string[], timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawnInPod(pod, argv);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => {
      stdout += d;
    });
    child.stderr?.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Stops every child still running (interrupts, failures). */
export function killAllInPods(): void {
  for (const c of running) c.kill('SIGKILL');
  running.clear();
}
