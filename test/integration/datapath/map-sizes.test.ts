// The addon checks every key and value against the sizes the kernel has for
// the map: a wrong size from JavaScript is a clear error naming the map and
// both sizes, never a kernel copy past the end of a buffer.
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  BpfMap,
  type Decoded,
  type LoadedObject,
  loadObject,
  mapSpec,
  native,
  repoRoot,
} from '../../../agent/src/datapath/index.ts';
import { describePrivileged } from '../../support/privileged.ts';
import { makeRig, type Rig } from '../../support/rig.ts';

describePrivileged('map key and value sizes', () => {
  let rig: Rig;
  let obj: LoadedObject;
  // enrolled: key u64 cgroup id (8 bytes), value { id u32, flags u32 } (8 bytes).
  let m: BpfMap<bigint, Decoded>;

  beforeAll(() => {
    rig = makeRig('mapsizes');
    obj = loadObject(`${repoRoot}build/bpf/sock_connect.bpf.o`, { pinRoot: rig.pinDir() });
    rig.cleanup.add('object', () => obj.close());
    m = obj.map<bigint, Decoded>('enrolled');
    rig.cleanup.add('map', () => m.close());
    m.set(7n, { id: 3, flags: 0 });
  });
  afterAll(() => rig.teardown());

  const key = (n: number) => Buffer.alloc(n, 0);

  it('refuses a lookup with a short key or a short value buffer', () => {
    const n = native();
    expect(() => n.mapLookup(m.fd, key(4), 8)).toThrow(RangeError);
    expect(() => n.mapLookup(m.fd, key(4), 8)).toThrow(
      "mapLookup: map 'enrolled': key is 4 bytes, the map's is 8",
    );
    expect(() => n.mapLookup(m.fd, key(8), 2)).toThrow(
      "mapLookup: map 'enrolled': value size is 2 bytes, the map's is 8",
    );
  });

  it('refuses an update with a short or long key or value', () => {
    const n = native();
    expect(() => n.mapUpdate(m.fd, key(8), Buffer.alloc(1), 0)).toThrow(
      "mapUpdate: map 'enrolled': value is 1 bytes, the map's is 8",
    );
    expect(() => n.mapUpdate(m.fd, key(16), Buffer.alloc(8), 0)).toThrow(
      "mapUpdate: map 'enrolled': key is 16 bytes, the map's is 8",
    );
  });

  it('refuses a delete, an iteration step and a batch dump with wrong sizes', () => {
    const n = native();
    expect(() => n.mapDelete(m.fd, key(1))).toThrow(
      "mapDelete: map 'enrolled': key is 1 bytes, the map's is 8",
    );
    expect(() => n.mapNextKey(m.fd, null, 3)).toThrow(
      "mapNextKey: map 'enrolled': key size is 3 bytes, the map's is 8",
    );
    expect(() => n.mapNextKey(m.fd, key(2), 8)).toThrow(
      "mapNextKey: map 'enrolled': key is 2 bytes, the map's is 8",
    );
    expect(() => n.mapLookupBatch(m.fd, 8, 1, 256)).toThrow(
      "mapLookupBatch: map 'enrolled': value size is 1 bytes, the map's is 8",
    );
  });

  it('refuses what is not a Buffer or not an fd', () => {
    const n = native() as unknown as Record<string, (...a: unknown[]) => unknown>;
    expect(() => n.mapLookup!(m.fd, 'abcdefgh', 8)).toThrow(TypeError);
    expect(() => n.mapDelete!(m.fd, 8)).toThrow("mapDelete: map 'enrolled': key must be a Buffer");
    expect(() => n.mapLookup!('3', key(8), 8)).toThrow(TypeError);
  });

  it('checks the same on a handle, which read the sizes once', () => {
    const h = new (native().MapHandle)(m.fd);
    try {
      expect([h.name, h.keySize, h.valueSize]).toEqual(['enrolled', 8, 8]);
      expect(() => h.lookup(key(4))).toThrow(
        "lookup: map 'enrolled': key is 4 bytes, the map's is 8",
      );
      expect(() => h.update(key(8), Buffer.alloc(3), 0)).toThrow(
        "update: map 'enrolled': value is 3 bytes, the map's is 8",
      );
      expect(() => h.delete(key(9))).toThrow(RangeError);
      expect(() => h.nextKey(key(1))).toThrow(RangeError);
      const k = key(8);
      k.writeBigUInt64LE(7n);
      expect(h.lookup(k)).toEqual(Buffer.from([3, 0, 0, 0, 0, 0, 0, 0]));
    } finally {
      h.close();
    }
    expect(() => h.lookup(key(8))).toThrow(/map 'enrolled' is closed/);
  });

  it('refuses a typed map whose layout has other sizes than the kernel map', () => {
    // conn_orig's layout has a 24-byte key, enrolled's kernel map an 8-byte one.
    const fd = native().dupFd(m.fd);
    expect(() => new BpfMap(mapSpec('conn_orig'), fd)).toThrow(
      /map 'conn_orig' \(fd \d+\): the kernel's key and value are 8 and 8 bytes, the layout's \d+ and \d+/,
    );
  });

  it('still serves calls of the right sizes, and the entries are intact', () => {
    expect(m.get(7n)).toEqual({ id: 3, flags: 0 });
    expect([...m.keys()]).toEqual([7n]);
    expect(m.entries()).toEqual([[7n, { id: 3, flags: 0 }]]);
    expect(m.delete(7n)).toBe(true);
  });
});
