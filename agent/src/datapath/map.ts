// A BPF map seen through its layout: keys and values go in and come out as
// typed objects. The map owns its fd; close() releases it.

import { type Layout, layoutSize, type MapSpec, maps } from '../tables/index.ts';
import { type Codec, codecFor } from './codec.ts';
import { type KernelMapInfo, type NativeError, type NativeMapHandle, native } from './native.ts';

export const UpdateFlags = { ANY: 0, NOEXIST: 1, EXIST: 2 } as const;

const kernelType: Record<MapSpec['type'], string> = {
  array: 'array',
  hash: 'hash',
  lru_hash: 'lru_hash',
  ringbuf: 'ringbuf',
  sockmap: 'sockmap',
  sockhash: 'sockhash',
  lpm_trie: 'lpm_trie',
};

export function mapSpec(name: string): MapSpec {
  const spec = maps.find((m) => m.name === name);
  if (!spec) throw new Error(`no map named '${name}' in the layout`);
  return spec;
}

function sizeOf(l: Layout | undefined): number {
  return l === undefined ? 0 : layoutSize(l);
}

/** Throws when what the kernel holds is not what the layout describes. */
export function checkMapInfo(spec: MapSpec, info: KernelMapInfo, where: string): void {
  const want = {
    type: kernelType[spec.type],
    keySize: sizeOf(spec.key),
    valueSize: sizeOf(spec.value),
    maxEntries: spec.maxEntries,
  };
  for (const k of Object.keys(want) as (keyof typeof want)[]) {
    if (info[k] !== want[k]) {
      throw new Error(
        `map '${spec.name}' at ${where}: ${k} is ${info[k]}, the layout says ${want[k]} ` +
          '(a pin left by another weft version? remove it or migrate)',
      );
    }
  }
}

/** The addon's handle on fd, checked against the layout's sizes; fd is closed on failure (it was given to us). */
function openHandle(
  spec: MapSpec,
  fd: number,
  keySize: number,
  valueSize: number,
): NativeMapHandle {
  const n = native();
  let h: NativeMapHandle | undefined;
  try {
    h = new n.MapHandle(fd);
    if (h.keySize !== keySize || h.valueSize !== valueSize) {
      throw new RangeError(
        `map '${spec.name}' (fd ${fd}): the kernel's key and value are ${h.keySize} and ` +
          `${h.valueSize} bytes, the layout's ${keySize} and ${valueSize}`,
      );
    }
    return h;
  } catch (e) {
    h?.close();
    n.closeFd(fd);
    throw e;
  }
}

export class BpfMap<K = unknown, V = unknown> {
  readonly spec: MapSpec;
  readonly fd: number;
  private readonly keyCodec: Codec<K>;
  private readonly valueCodec: Codec<V>;
  private readonly keyScratch: Buffer;
  /** The addon's view of the map: it checks every key and value against the kernel's sizes. */
  private readonly handle: NativeMapHandle;
  private closed = false;

  /** Takes ownership of fd. Throws when the map behind it has other sizes than the layout. */
  constructor(spec: MapSpec, fd: number) {
    if (!spec.key || !spec.value) throw new Error(`map '${spec.name}' has no key/value layout`);
    this.spec = spec;
    this.fd = fd;
    this.keyCodec = codecFor<K>(spec.key);
    this.valueCodec = codecFor<V>(spec.value);
    this.keyScratch = Buffer.alloc(this.keyCodec.size);
    this.handle = openHandle(spec, fd, this.keyCodec.size, this.valueCodec.size);
  }

  /** Opens a pinned map and checks it against the layout before trusting it. */
  static openPinned<K, V>(path: string, spec: MapSpec): BpfMap<K, V> {
    const n = native();
    const fd = n.objGet(path);
    try {
      checkMapInfo(spec, n.mapInfo(fd), path);
    } catch (e) {
      n.closeFd(fd);
      throw e;
    }
    return new BpfMap<K, V>(spec, fd);
  }

  get(key: K): V | undefined {
    const buf = this.handle.lookup(this.key(key));
    return buf === null ? undefined : this.valueCodec.decode(buf);
  }

  /** The value, deleted in the same call (a consumed entry); undefined when there was none. */
  take(key: K): V | undefined {
    const buf = this.handle.take(this.key(key));
    return buf === null ? undefined : this.valueCodec.decode(buf);
  }

  set(key: K, value: V, flags: number = UpdateFlags.ANY): void {
    this.handle.update(this.key(key), this.valueCodec.encode(value), flags);
  }

  /** Whether there was an entry to delete. */
  delete(key: K): boolean {
    return this.handle.delete(this.key(key));
  }

  *keys(): Generator<K> {
    let cur: Buffer | null = null;
    for (;;) {
      const next: Buffer | null = this.handle.nextKey(cur);
      if (next === null) return;
      yield this.keyCodec.decode(next);
      cur = next;
    }
  }

  /** Every entry: one batch syscall per chunk where the kernel can, else key by key. */
  entries(): Array<[K, V]> {
    const ks = this.keyCodec.size;
    const vs = this.valueCodec.size;
    try {
      const { keys, values, count } = this.handle.lookupBatch(256);
      const out: Array<[K, V]> = [];
      for (let i = 0; i < count; i++) {
        out.push([this.keyCodec.decode(keys, i * ks), this.valueCodec.decode(values, i * vs)]);
      }
      return out;
    } catch (e) {
      const code = (e as NativeError).code;
      if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOTSUPP')
        throw e;
    }
    const out: Array<[K, V]> = [];
    for (const k of this.keys()) {
      const v = this.get(k);
      if (v !== undefined) out.push([k, v]);
    }
    return out;
  }

  pin(path: string): void {
    native().objPin(this.fd, path);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handle.close();
    native().closeFd(this.fd);
  }

  private key(key: K): Buffer {
    return this.keyCodec.encode(key, this.keyScratch);
  }
}
