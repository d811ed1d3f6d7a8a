// What a bench run starts, undone when it ends, throws or is interrupted: the
// sandbox's undo list (agent/src/sandbox/cleanup.ts: reverse order, on exit,
// SIGINT, SIGTERM and SIGHUP), with the run's temp dir and every
// child it spawns (its whole process tree, since nginx workers outlive a killed
// master). Node cannot set a child's parent-death signal, so children start
// under `setpriv --pdeathsig TERM` (util-linux): if this process is SIGKILLed
// and runs no cleanup, the kernel still sends them SIGTERM.
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cleanup } from '../agent/src/sandbox/cleanup.ts';
import { processTree } from './cpu.ts';
import { findCommand } from './pod-exec.ts';

const owned = new Set<ChildProcess>();

/** Kills every child spawnOwned started that still runs, with its descendants. */
export function killOwned(): void {
  for (const c of owned) {
    for (const pid of c.pid ? processTree(c.pid) : []) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  }
  owned.clear();
}

/**
 * A bench run's undo list: steps added later run first, the children spawnOwned
 * started are killed last. `cleanup.dispose()` at the run's end (in a finally)
 * runs it and removes the handlers.
 */
export function benchCleanup(): Cleanup {
  const cleanup = new Cleanup();
  cleanup.add('children', killOwned);
  return cleanup;
}

/** A temp dir the cleanup removes, once the children that write in it are gone. */
export function benchTempDir(cleanup: Cleanup, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanup.add(`temp dir ${dir}`, () => {
    killOwned();
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Kills `pids` at cleanup: processes of the run that another helper started (a fork). */
export function killAtCleanup(cleanup: Cleanup, what: string, pids: readonly number[]): void {
  cleanup.add(what, () => {
    for (const pid of pids)
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
  });
}

const setpriv = findCommand('setpriv');

/** spawn(argv) as a child that killOwned stops and that dies with this process. */
export function spawnOwned(argv: string[], opts: SpawnOptions = {}): ChildProcess {
  const full = setpriv ? [setpriv, '--pdeathsig', 'TERM', '--', ...argv] : argv;
  const child = spawn(full[0]!, full.slice(1), opts);
  owned.add(child);
  child.once('exit', () => owned.delete(child));
  return child;
}
