// The node's BPF objects and links, pinned under the pin root: objects opened
// with that root (so they share their maps), the root programs attached at the
// agent's cgroup root, sk_lookup per enrolled pod netns, and the layout check
// of the pinned maps. A restarted agent picks it all up again: links keep their
// programs attached (and are updated to the new agent's programs in one step).
import { existsSync, mkdirSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { constants, LAYOUT_VERSION } from '../tables/index.ts';
import { attachCgroup, attachNetns, attachSkMsg, Link } from './attach.ts';
import type { Decoded } from './codec.ts';
import { EventStream } from './events.ts';
import type { BpfMap } from './map.ts';
import { type KernelLinkInfo, repoRoot } from './native.ts';
import { type LoadedObject, loadObject } from './object.ts';
import { cgroupId, ensureBpffs } from './system.ts';

const OBJECTS = ['sock_connect', 'sock_ops', 'sk_lookup'] as const;
/** Programs attached once at the cgroup root. */
const ROOT_PROGRAMS: Record<string, (typeof OBJECTS)[number]> = {
  weft_connect4: 'sock_connect',
  weft_connect6: 'sock_connect',
  weft_getpeername4: 'sock_connect',
  weft_getpeername6: 'sock_connect',
  weft_sendmsg4: 'sock_connect',
  weft_sendmsg6: 'sock_connect',
  weft_sockops: 'sock_ops',
};

export interface NodeDatapathOptions {
  /** cgroup v2 directory whose subtree holds the node's pods. */
  cgroupRoot: string;
  /** bpffs directory for this node's pins. */
  pinRoot: string;
  bpfDir?: string;
  splice?: boolean;
}

export class PinnedObjects {
  readonly opts: NodeDatapathOptions;
  private readonly objects = new Map<string, LoadedObject>();
  private readonly meta: BpfMap<number, Decoded>;
  private readonly linkDir: string;

  constructor(opts: NodeDatapathOptions) {
    this.opts = opts;
    const bpfDir = opts.bpfDir ?? `${repoRoot}build/bpf`;
    ensureBpffs(opts.pinRoot);
    this.linkDir = join(opts.pinRoot, 'links');
    mkdirSync(this.linkDir, { recursive: true });
    try {
      for (const name of OBJECTS) {
        this.objects.set(name, loadObject(`${bpfDir}/${name}.bpf.o`, { pinRoot: opts.pinRoot }));
      }
    } catch (e) {
      this.closeObjects();
      throw e;
    }
    this.meta = this.maps.map('meta');
  }

  /** The object whose maps the agent reads and writes (every map is shared by pinning). */
  get maps(): LoadedObject {
    return this.objects.get('sock_connect')!;
  }

  checkLayout(): void {
    const m = this.meta.get(0);
    const version = m?.layout_version as number | undefined;
    if (version && version !== LAYOUT_VERSION) {
      throw new Error(
        `pinned maps under ${this.opts.pinRoot} have layout ${version}, this agent has ${LAYOUT_VERSION}; ` +
          'remove the pins (they hold enrollment only) and restart',
      );
    }
    this.meta.set(0, {
      layout_version: LAYOUT_VERSION,
      flags: this.opts.splice ? constants.META_F_SPLICE : 0,
    });
  }

  /** Attaches (or, after a restart, re-points) the root programs. Idempotent. */
  attachRoot(): void {
    for (const [prog, objName] of Object.entries(ROOT_PROGRAMS)) {
      const p = this.objects.get(objName)!.program(prog);
      try {
        const cg = cgroupId(this.opts.cgroupRoot);
        this.pinnedLink(
          prog,
          () => attachCgroup(p, this.opts.cgroupRoot),
          p,
          (i) => i.cgroupId === cg,
        );
      } finally {
        p.close();
      }
    }
    const ops = this.objects.get('sock_ops')!;
    const msg = ops.program('weft_sk_msg');
    const hash = ops.map('splice_socks');
    try {
      // Attaching again replaces the sockhash's previous verdict program.
      attachSkMsg(msg, hash);
    } finally {
      msg.close();
      hash.close();
    }
  }

  /**
   * Attaches through a pinned link: a pin left by an earlier agent is re-pointed
   * at the new program in one step, but only while it is still attached where
   * it should be (a netns inode or cgroup can be reused after its owner died);
   * otherwise it is replaced.
   */
  private pinnedLink(
    name: string,
    attach: () => Link,
    prog: { readonly fd: number },
    stillRight: (info: KernelLinkInfo) => boolean,
  ): void {
    const pin = join(this.linkDir, name);
    if (existsSync(pin)) {
      const l = Link.openPinned(pin);
      try {
        if (stillRight(l.info())) {
          l.update(prog);
          return;
        }
      } finally {
        l.close();
      }
      unlinkSync(pin);
    }
    const l = attach();
    try {
      l.pin(pin);
    } finally {
      l.close();
    }
  }

  /** sk_lookup on a pod's netns, through a pinned link. */
  attachSkLookup(netnsPath: string): void {
    const prog = this.objects.get('sk_lookup')!.program('weft_sk_lookup');
    try {
      const ino = statSync(netnsPath).ino;
      this.pinnedLink(
        `sk_lookup-${ino}`,
        () => attachNetns(prog, netnsPath),
        prog,
        (i) => i.netnsIno === ino,
      );
    } finally {
      prog.close();
    }
  }

  /** Drops the pinned sk_lookup link of a pod's netns (when the netns is still there). */
  unpinSkLookup(netnsPath: string | undefined): void {
    if (netnsPath && existsSync(netnsPath)) {
      const pin = join(this.linkDir, `sk_lookup-${statSync(netnsPath).ino}`);
      if (existsSync(pin)) unlinkSync(pin);
    }
  }

  /** Pinned sk_lookup links whose netns is gone, left by pods deleted while no agent ran. */
  prunePods(liveNetns: Set<string>): void {
    const live = new Set(
      [...liveNetns].filter((p) => existsSync(p)).map((p) => `sk_lookup-${statSync(p).ino}`),
    );
    for (const f of readdirSync(this.linkDir)) {
      if (f.startsWith('sk_lookup-') && !live.has(f)) unlinkSync(join(this.linkDir, f));
    }
  }

  events(): EventStream {
    return new EventStream(this.maps.mapFd('events'));
  }

  closeObjects(): void {
    for (const o of this.objects.values()) o.close();
    this.objects.clear();
  }

  /** Releases this process's handles; pins stay. */
  close(): void {
    this.meta.close();
    this.closeObjects();
  }
}
