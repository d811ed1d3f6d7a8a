// Map entries round-trip through the typed layer into the kernel and back:
// single ops, batch dumps, iteration, pins, and refusal of a pin whose layout
// is not ours.
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  BpfMap,
  type Decoded,
  encodeAddr,
  type LoadedObject,
  layout,
  loadObject,
  mapSpec,
  type NativeError,
  repoRoot,
  UpdateFlags,
} from '../../../agent/src/datapath/index.ts';
import { describePrivileged } from '../../support/privileged.ts';
import { makeRig, type Rig } from '../../support/rig.ts';

describePrivileged('typed maps', () => {
  let rig: Rig;
  let pins: string;
  let obj: LoadedObject;

  beforeAll(() => {
    rig = makeRig('maps');
    pins = rig.pinDir();
    obj = loadObject(`${repoRoot}build/bpf/sock_connect.bpf.o`, { pinRoot: pins });
    rig.cleanup.add('object', () => obj.close());
  });
  afterAll(() => rig.teardown());

  it('round-trips struct values keyed by u64', () => {
    const m = obj.map<bigint, Decoded>('enrolled');
    try {
      m.set(1n, { id: 1, flags: layout.constants.WL_F_STRICT });
      m.set(0xffff_ffff_ffffn, { id: 0xffff_ffff, flags: 0 });
      expect(m.get(1n)).toEqual({ id: 1, flags: 1 });
      expect(m.get(0xffff_ffff_ffffn)).toEqual({ id: 0xffff_ffff, flags: 0 });
      expect(m.get(2n)).toBeUndefined();
      expect(m.delete(1n)).toBe(true);
      expect(m.delete(1n)).toBe(false);
      expect(m.get(1n)).toBeUndefined();
      m.delete(0xffff_ffff_ffffn);
    } finally {
      m.close();
    }
  });

  it('takes an entry: its value, gone from the map in the same call', () => {
    const m = obj.map<bigint, Decoded>('enrolled');
    try {
      m.set(7n, { id: 7, flags: 0 });
      expect(m.take(7n)).toEqual({ id: 7, flags: 0 });
      expect(m.get(7n)).toBeUndefined();
      expect(m.take(7n)).toBeUndefined();
    } finally {
      m.close();
    }
  });

  it('round-trips struct keys with addresses and network-order ports', () => {
    const m = obj.map<Decoded, Decoded>('conn_orig');
    try {
      const a = encodeAddr('2001:db8::7');
      const key = { workload_id: 9, port: 40000, family: a.family };
      const value = { addr: a.bytes, port: 443, family: a.family, workload_id: 9 };
      m.set(key, value);
      expect(m.get(key)).toEqual(value);
      expect(m.get({ ...key, port: 40001 })).toBeUndefined();
      expect([...m.keys()]).toEqual([key]);
      m.delete(key);
    } finally {
      m.close();
    }
  });

  it('dumps many entries in batches and by iteration alike', () => {
    const m = obj.map<bigint, Decoded>('enrolled');
    try {
      for (let i = 0; i < 1000; i++) m.set(BigInt(1_000_000 + i), { id: i, flags: i & 1 });
      const batch = m.entries();
      expect(batch).toHaveLength(1000);
      const byKey = new Map(batch.map(([k, v]) => [k, v]));
      for (let i = 0; i < 1000; i++)
        expect(byKey.get(BigInt(1_000_000 + i))).toEqual({ id: i, flags: i & 1 });
      expect([...m.keys()].sort()).toEqual([...byKey.keys()].sort());
      for (let i = 0; i < 1000; i++) m.delete(BigInt(1_000_000 + i));
      expect(m.entries()).toEqual([]);
    } finally {
      m.close();
    }
  });

  it('honours update flags with the kernel error code', () => {
    const m = obj.map<bigint, Decoded>('enrolled');
    try {
      m.set(5n, { id: 5, flags: 0 }, UpdateFlags.NOEXIST);
      expect(() => m.set(5n, { id: 6, flags: 0 }, UpdateFlags.NOEXIST)).toThrow(
        expect.objectContaining({ code: 'EEXIST', errno: 17 }),
      );
      expect(() => m.set(6n, { id: 6, flags: 0 }, UpdateFlags.EXIST)).toThrow(
        expect.objectContaining({ code: 'ENOENT' }),
      );
      m.delete(5n);
    } finally {
      m.close();
    }
  });

  it('reopens a pinned map after its object is gone, with the entries intact', () => {
    const m = obj.map<number, Decoded>('meta');
    m.set(0, { layout_version: layout.LAYOUT_VERSION, flags: 0 });
    m.close();
    const again = BpfMap.openPinned<number, Decoded>(`${pins}/meta`, mapSpec('meta'));
    try {
      expect(again.get(0)).toEqual({ layout_version: layout.LAYOUT_VERSION, flags: 0 });
    } finally {
      again.close();
    }
  });

  it('refuses a pin whose layout differs, naming the map and the field', () => {
    let err: Error | undefined;
    try {
      BpfMap.openPinned(`${pins}/enrolled`, mapSpec('orig_dst'));
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).toMatch(
      /map 'orig_dst' at .*enrolled: type is hash, the layout says lru_hash/,
    );
  });

  it('reports a missing pin as ENOENT with its path', () => {
    expect(() => BpfMap.openPinned(`${pins}/nothing`, mapSpec('meta'))).toThrow(
      expect.objectContaining({ code: 'ENOENT' } satisfies Partial<NativeError>),
    );
  });
});
