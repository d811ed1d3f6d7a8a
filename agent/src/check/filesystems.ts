// Filesystem checks: cgroup v2 (found in the mount table, wherever the host put
// it) and bpffs, where the agent pins its maps and links.
import { BPFFS, cgroup2Root } from '../datapath/index.ts';
import { type Check, fail, ok, warn } from './types.ts';

const cgroup2: Check = {
  id: 'fs.cgroup2',
  title: 'cgroup v2 is mounted',
  category: 'filesystems',
  run({ host }) {
    const mounts = host.mounts();
    let root: string;
    try {
      root = cgroup2Root(mounts);
    } catch {
      return fail(
        'no cgroup2 filesystem in the mount table',
        'weft attaches its programs to a cgroup v2 tree: boot with systemd.unified_cgroup_hierarchy=1, or mount -t cgroup2 none /sys/fs/cgroup',
      );
    }
    const hybrid = mounts.some((m) => m.fstype === 'cgroup');
    return ok(`at ${root}${hybrid ? ' (hybrid host: cgroup v1 controllers mounted too)' : ''}`);
  },
};

const bpffs: Check = {
  id: 'fs.bpffs',
  title: `bpffs is mounted at ${BPFFS}`,
  category: 'filesystems',
  run({ host }) {
    if (host.mounts().some((m) => m.target === BPFFS && m.fstype === 'bpf'))
      return ok(`at ${BPFFS}`);
    const known = (host.readFile('/proc/filesystems') ?? '')
      .split('\n')
      .some((l) => l.trim().split(/\s+/).pop() === 'bpf');
    if (known) {
      return warn(
        `nothing mounted at ${BPFFS}; the agent mounts it when it starts`,
        `mount it on the host (mount -t bpf bpf ${BPFFS}), and on Kubernetes give the agent the host's ${BPFFS}, so pins outlive the agent`,
      );
    }
    return fail(
      `nothing mounted at ${BPFFS}, and this kernel does not know the bpf filesystem`,
      'use a kernel built with CONFIG_BPF_SYSCALL=y',
    );
  },
};

const pinDir: Check = {
  id: 'fs.pin-dir',
  title: 'the pin directory is on bpffs',
  category: 'filesystems',
  run({ options }) {
    if (options.bpffs.startsWith(`${BPFFS}/`)) return ok(options.bpffs);
    return fail(
      `${options.bpffs} is not under ${BPFFS}`,
      `pass a directory under ${BPFFS} with --bpffs (the agent's default is ${BPFFS}/weft)`,
    );
  },
};

export const filesystemChecks: readonly Check[] = [cgroup2, bpffs, pinDir];
