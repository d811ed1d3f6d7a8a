// Keeping hold of a pod's netns. /proc/PID/ns/net names the namespace only
// while PID lives, and a reused pid would name another one. The datapath
// takes a path and opens it again whenever it needs the namespace (to make a
// listening socket there with setns, to attach sk_lookup, to compare inodes),
// so it must be handed a path that keeps naming the same netns for as long as
// the pod is enrolled. Two ways:
//
// - An fd (what pinNetns does): open /proc/PID/ns/net once, check its inode,
//   and hand the datapath /proc/self/fd/<fd>. The open fd holds a reference,
//   so the namespace outlives the pod's processes and the path keeps naming
//   it until close(); it needs no mount rights and nothing outlives the agent.
// - A bind mount of /proc/PID/ns/net onto a file (as `ip netns add` does):
//   survives an agent restart, but needs CAP_SYS_ADMIN in the host's mount
//   namespace and Bidirectional mount propagation in a DaemonSet, and leaks
//   the namespace if the agent dies before unmounting it.
//
// weft takes the fd: an agent restart re-resolves every pod anyway, and BPF
// links it attached (sk_lookup) hold their own reference to the netns.
import { closeSync, fstatSync, openSync } from 'node:fs';

export interface PinnedNetns {
  readonly fd: number;
  /** /proc/self/fd/<fd>: a path any code in this process can open, setns into or stat. */
  readonly path: string;
  readonly ino: number;
  close(): void;
}

/** Opens the netns a resolution names; fails if it is not (or no longer) that netns. */
export function pinNetns(r: { netnsPath: string; netnsIno: number }): PinnedNetns {
  const fd = openSync(r.netnsPath, 'r');
  const ino = Number(fstatSync(fd).ino);
  if (ino !== r.netnsIno) {
    closeSync(fd);
    throw new Error(
      `${r.netnsPath} is netns ${ino} now, not ${r.netnsIno}: the process exited and its pid was reused; resolve again`,
    );
  }
  let open = true;
  return {
    fd,
    path: `/proc/self/fd/${fd}`,
    ino,
    close() {
      if (open) closeSync(fd);
      open = false;
    },
  };
}
