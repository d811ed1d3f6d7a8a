// Loading a compiled BPF object and handing out its programs and maps. Handles
// given out own duplicated fds, so they outlive the object.
import { BpfMap, checkMapInfo, mapSpec } from './map.ts';
import { type NativeBpfObject, native, type ObjectMapInfo, type ProgramInfo } from './native.ts';

export interface LoadOptions {
  /** Share pinned maps through this bpffs directory; without it nothing is pinned. */
  pinRoot?: string;
}

/** A loaded program; owns its fd. */
export class Program {
  readonly name: string;
  readonly type: string;
  readonly attachType: string;
  readonly fd: number;

  constructor(info: ProgramInfo, fd: number) {
    this.name = info.name;
    this.type = info.type;
    this.attachType = info.attachType;
    this.fd = fd;
  }

  close(): void {
    native().closeFd(this.fd);
  }
}

export class LoadedObject {
  readonly path: string;
  private obj: NativeBpfObject | null;
  private readonly progs: Map<string, ProgramInfo>;
  private readonly mapInfos: Map<string, ObjectMapInfo>;

  constructor(path: string, opts: LoadOptions = {}) {
    this.path = path;
    const n = native();
    const obj = new n.BpfObject(path, opts.pinRoot ?? null);
    obj.load(); // throws with the verifier log on rejection; nothing stays loaded
    this.obj = obj;
    this.progs = new Map(obj.programs().map((p) => [p.name, p]));
    this.mapInfos = new Map(obj.maps().map((m) => [m.name, m]));
    for (const m of this.mapInfos.values()) {
      if (m.name.includes('.')) continue; // libbpf's own .rodata/.bss maps
      checkMapInfo(mapSpec(m.name), n.mapInfo(m.fd), path);
    }
  }

  programNames(): string[] {
    return [...this.progs.keys()];
  }

  mapNames(): string[] {
    return [...this.mapInfos.keys()];
  }

  /** The program, with an fd of its own (close it with the Program's owner). */
  program(name: string): Program {
    const p = this.progs.get(name);
    if (!p || !this.obj) throw new Error(`${this.path}: no program '${name}'`);
    return new Program(p, native().dupFd(p.fd));
  }

  map<K = unknown, V = unknown>(name: string): BpfMap<K, V> {
    const m = this.mapInfos.get(name);
    if (!m || !this.obj) throw new Error(`${this.path}: no map '${name}'`);
    return new BpfMap<K, V>(mapSpec(name), native().dupFd(m.fd));
  }

  /** A raw fd of a map (ring buffers have no typed form), duplicated. */
  mapFd(name: string): number {
    const m = this.mapInfos.get(name);
    if (!m || !this.obj) throw new Error(`${this.path}: no map '${name}'`);
    return native().dupFd(m.fd);
  }

  close(): void {
    this.obj?.close();
    this.obj = null;
  }
}

export function loadObject(path: string, opts: LoadOptions = {}): LoadedObject {
  return new LoadedObject(path, opts);
}
