// What discovery reads from the node: cgroup.procs, /proc/PID/ns/net and
// /proc/PID/cmdline. Every path is under a root the caller gives, so the
// same code reads the host (/host/proc, /host/sys/fs/cgroup) or a tree a
// test fabricated.
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';

const NS_LINK = /^net:\[(\d+)\]$/;

function code(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException).code;
}

/** Gone between listing and reading: the process exited or the cgroup was removed. */
export function isGone(e: unknown): boolean {
  const c = code(e);
  return c === 'ENOENT' || c === 'ESRCH' || c === 'ENODEV';
}

/**
 * The inode of the network namespace at nsPath. /proc/PID/ns/net reads as a
 * link `net:[N]`; a bind-mounted namespace file (or a plain file in a test)
 * is not a link, and its inode is the namespace's.
 */
export function netnsInode(nsPath: string): number {
  let text: string;
  try {
    text = readlinkSync(nsPath);
  } catch (e) {
    if (code(e) !== 'EINVAL') throw e;
    return Number(statSync(nsPath).ino);
  }
  const m = NS_LINK.exec(text);
  if (!m) throw new Error(`${nsPath} links to '${text}', not a network namespace (net:[N])`);
  return Number(m[1]);
}

/** The pids listed in a cgroup's cgroup.procs (this cgroup only, not its children). */
export function cgroupPids(cgroupDir: string): number[] {
  return readFileSync(join(cgroupDir, 'cgroup.procs'), 'utf8')
    .split('\n')
    .filter((l) => /^\d+$/.test(l.trim()))
    .map(Number);
}

/** Names of the child cgroups (directories) of a cgroup. */
export function childCgroups(cgroupDir: string): string[] {
  return readdirSync(cgroupDir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}

/** The program a process runs, as the base name of argv[0]; undefined once it is gone. */
export function programName(procRoot: string, pid: number): string | undefined {
  try {
    const argv0 = readFileSync(join(procRoot, String(pid), 'cmdline'), 'utf8').split('\0')[0];
    return argv0 ? basename(argv0) : undefined;
  } catch (e) {
    if (isGone(e) || code(e) === 'EACCES') return undefined;
    throw e;
  }
}
