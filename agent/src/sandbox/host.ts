// Host primitives the sandbox, the tests and the demo stand on: network
// namespaces, cgroup directories and bpffs pin directories, each named
// `weft-...` and each removable in one idempotent call. Nothing here touches
// the host's own netns or root cgroup.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PIN_ROOT } from '../config/index.ts';
import { cgroup2Root, ensureBpffs } from '../datapath/index.ts';

export const NETNS_DIR = '/var/run/netns';

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
}

function assertOwnName(name: string): void {
  if (!/^weft-[A-Za-z0-9_.-]+$/.test(name)) {
    throw new Error(`refusing '${name}': weft only makes and removes names starting with weft-`);
  }
}

export function netnsPath(name: string): string {
  return join(NETNS_DIR, name);
}

/** Creates a named netns with loopback up. */
export function addNetns(name: string): string {
  assertOwnName(name);
  run('ip', ['netns', 'add', name]);
  run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return netnsPath(name);
}

/** Removes a named netns; a missing one is not an error. */
export function delNetns(name: string): void {
  assertOwnName(name);
  if (!existsSync(netnsPath(name))) return;
  // Processes still inside keep the namespace alive; end them first.
  const pids = spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).stdout ?? '';
  for (const pid of pids.split('\n').filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
}

/** Runs `ip` inside the named netns. */
export function ipIn(name: string, ...args: string[]): string {
  return run('ip', ['-n', name, ...args]);
}

/** A cgroup v2 directory under the host's cgroup2 mount. */
export function cgroupPath(...parts: string[]): string {
  return join(cgroup2Root(), ...parts);
}

export function addCgroup(name: string): string {
  assertOwnName(name);
  const dir = cgroupPath(name);
  run('mkdir', ['-p', dir]);
  return dir;
}

function killCgroup(dir: string): void {
  const kill = join(dir, 'cgroup.kill');
  if (existsSync(kill)) {
    writeFileSync(kill, '1');
    return;
  }
  for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Kills what runs in a cgroup tree and removes it, deepest first; missing is fine. */
export function delCgroupTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) delCgroupTree(join(dir, entry.name));
  }
  killCgroup(dir);
  // A killed process leaves its cgroup a moment later.
  for (let i = 0; i < 200; i++) {
    try {
      rmdirSync(dir);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      if ((e as NodeJS.ErrnoException).code !== 'EBUSY') throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
  throw new Error(`cgroup ${dir} stays busy`);
}

/** A pin directory of our own under PIN_ROOT. */
export function addPinDir(...parts: string[]): string {
  const dir = join(PIN_ROOT, ...parts);
  ensureBpffs(dir);
  return dir;
}

/** Unpins everything under dir and removes it (also the parent weft/ when left empty). */
export function delPinDir(dir: string): void {
  if (!dir.startsWith(PIN_ROOT)) throw new Error(`refusing to remove ${dir}`);
  rmSync(dir, { recursive: true, force: true });
  const top = PIN_ROOT;
  try {
    if (existsSync(top) && readdirSync(top).length === 0) rmdirSync(top);
  } catch {
    // another sandbox or test is using it
  }
}
