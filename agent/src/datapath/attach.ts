// Attaching programs: BPF links for cgroups (connect, getpeername, sockops) and
// network namespaces (sk_lookup); a prog attach for sk_msg on a sockhash.
// A link detaches when its last fd closes and no pin holds it.
import { closeSync, constants as fsc, openSync, unlinkSync } from 'node:fs';
import type { BpfMap } from './map.ts';
import { type KernelLinkInfo, native } from './native.ts';
import type { Program } from './object.ts';

function withFd<T>(path: string, flags: number, fn: (fd: number) => T): T {
  const fd = openSync(path, flags);
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}

const dirFlags = fsc.O_RDONLY | fsc.O_DIRECTORY;

export class Link {
  readonly fd: number;
  readonly target: string;
  private closed = false;

  constructor(fd: number, target: string) {
    this.fd = fd;
    this.target = target;
  }

  /** Opens a pinned link (an agent restart finds its attachments this way). */
  static openPinned(path: string): Link {
    return new Link(native().objGet(path), path);
  }

  info(): KernelLinkInfo {
    return native().linkInfo(this.fd);
  }

  /** Pins the link: it then stays attached after every fd is closed, until unpinned. */
  pin(path: string): void {
    native().objPin(this.fd, path);
  }

  /** Removes a pin; the link detaches once no pin and no fd holds it. */
  static unpin(path: string): void {
    unlinkSync(path);
  }

  /** Replaces the link's program in one step (an agent upgrade keeps its attachments). */
  update(prog: { readonly fd: number }): void {
    native().linkUpdate(this.fd, prog.fd);
  }

  /** Detaches now, whoever else holds the link, then releases the fd. */
  detach(): void {
    if (this.closed) return;
    native().linkDetach(this.fd);
    this.close();
  }

  /** Releases this fd; the program stays attached only while a pin or fd holds it. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    native().closeFd(this.fd);
  }
}

/** Attaches a cgroup program (connect4/6, getpeername4/6, sockops...) to a cgroup v2 directory. */
export function attachCgroup(prog: Program, cgroupDir: string, attachType = prog.attachType): Link {
  const fd = withFd(cgroupDir, dirFlags, (cg) => native().linkCreate(prog.fd, cg, attachType));
  return new Link(fd, cgroupDir);
}

/** Attaches an sk_lookup program to a network namespace (e.g. /var/run/netns/X). */
export function attachNetns(prog: Program, netnsPath: string): Link {
  const fd = withFd(netnsPath, fsc.O_RDONLY, (ns) => native().linkCreate(prog.fd, ns, 'sk_lookup'));
  return new Link(fd, netnsPath);
}

/** An sk_msg program on a sockhash/sockmap: no link form on every kernel, so detach is explicit. */
export class MapAttachment {
  private readonly progFd: number;
  private readonly mapFd: number;
  private readonly attachType: string;
  private attached = true;

  /** Takes ownership of both fds. */
  constructor(progFd: number, mapFd: number, attachType: string) {
    this.progFd = progFd;
    this.mapFd = mapFd;
    this.attachType = attachType;
  }

  detach(): void {
    if (!this.attached) return;
    this.attached = false;
    const n = native();
    try {
      n.progDetach(this.progFd, this.mapFd, this.attachType);
    } finally {
      n.closeFd(this.progFd);
      n.closeFd(this.mapFd);
    }
  }
}

export function attachSkMsg(prog: Program, map: BpfMap): MapAttachment {
  const n = native();
  n.progAttach(prog.fd, map.fd, 'sk_msg_verdict', 0);
  // Own fds, so detach works whatever happens to the program and map handles.
  return new MapAttachment(n.dupFd(prog.fd), n.dupFd(map.fd), 'sk_msg_verdict');
}

/** Ids of programs attached to a cgroup directory or netns file for one attach type. */
export function attachedPrograms(targetPath: string, attachType: string): number[] {
  const flags = attachType === 'sk_lookup' ? fsc.O_RDONLY : dirFlags;
  return withFd(targetPath, flags, (fd) => native().progQuery(fd, attachType));
}
