// Where the kernel's interfaces live on this host: the cgroup2 mount (hybrid
// hosts keep it at /sys/fs/cgroup/unified) and bpffs.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { BPFFS } from '../config/index.ts';

export interface Mount {
  source: string;
  target: string;
  fstype: string;
}

/** Parses /proc/self/mounts text; octal escapes (\040) in paths are decoded. */
export function parseMounts(text: string): Mount[] {
  const decodeOctal = (s: string) =>
    s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(Number.parseInt(o, 8)));
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const [source = '', target = '', fstype = ''] = l.split(' ');
      return { source, target: decodeOctal(target), fstype };
    });
}

function mounts(): Mount[] {
  return parseMounts(readFileSync('/proc/self/mounts', 'utf8'));
}

/** The cgroup v2 mount point, wherever this host put it. */
export function cgroup2Root(mountList: Mount[] = mounts()): string {
  const m = mountList.find((x) => x.fstype === 'cgroup2');
  if (!m)
    throw new Error(
      'no cgroup2 filesystem is mounted; weft needs cgroup v2 (mount -t cgroup2 none /sys/fs/cgroup)',
    );
  return m.target;
}

/** A cgroup v2 directory's id, as bpf_get_current_cgroup_id() reports it: its inode number. */
export function cgroupId(dir: string): bigint {
  return statSync(dir, { bigint: true }).ino;
}

export { BPFFS };

/** Mounts bpffs at /sys/fs/bpf if nothing is there yet, and makes dir under it. */
export function ensureBpffs(dir: string, mountList: Mount[] = mounts()): void {
  if (!mountList.some((m) => m.target === BPFFS && m.fstype === 'bpf')) {
    execFileSync('mount', ['-t', 'bpf', 'bpf', BPFFS], { stdio: 'pipe' });
  }
  if (!dir.startsWith(`${BPFFS}/`)) throw new Error(`pin directory ${dir} is not under ${BPFFS}`);
  mkdirSync(dir, { recursive: true });
}
