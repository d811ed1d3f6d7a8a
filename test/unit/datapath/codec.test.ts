import { describe, expect, it } from 'vitest';
import { codecFor, decodeAddr, encodeAddr } from '../../../agent/src/datapath/codec.ts';
import { decodeEvent } from '../../../agent/src/datapath/events.ts';
import { Event, type StructSpec, Workload } from '../../../agent/src/tables/layout.ts';

/** A key with a host-order field, a network-order port and an address. */
const EgressKey: StructSpec = {
  name: 'weft_egress_key',
  doc: 'An egress destination of one workload.',
  fields: [
    { name: 'workload_id', type: 'u32' },
    { name: 'port', type: 'be16' },
    { name: 'family', type: 'u16' },
    { name: 'addr', type: { bytes: 16 } },
  ],
};

describe('struct codec', () => {
  it('encodes little-endian host fields and big-endian ports at their offsets', () => {
    const c = codecFor(EgressKey);
    const buf = c.encode({
      workload_id: 0x01020304,
      port: 443,
      family: 2,
      addr: Buffer.from([10, 0, 0, 1]),
    });
    expect(buf.length).toBe(24);
    expect([...buf.subarray(0, 8)]).toEqual([4, 3, 2, 1, 0x01, 0xbb, 2, 0]);
    expect([...buf.subarray(8, 12)]).toEqual([10, 0, 0, 1]);
    expect(c.decode(buf)).toEqual({
      workload_id: 0x01020304,
      port: 443,
      family: 2,
      addr: Buffer.concat([Buffer.from([10, 0, 0, 1]), Buffer.alloc(12)]),
    });
  });

  it('reuses a caller buffer, zeroing what is not set', () => {
    const c = codecFor(Workload);
    const scratch = Buffer.alloc(8, 0xff);
    expect(c.encode({ id: 5 }, scratch)).toBe(scratch);
    expect([...scratch]).toEqual([5, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('rejects values of the wrong kind, naming the field', () => {
    const c = codecFor(Workload);
    expect(() => c.encode({ id: 1.5 })).toThrow('weft_workload.id: expected an integer');
    expect(() => c.encode({ id: 2 ** 32 })).toThrow(RangeError);
    expect(() => codecFor(EgressKey).encode({ addr: Buffer.alloc(17) })).toThrow(
      'weft_egress_key.addr: expected a Buffer of at most 16 bytes',
    );
    expect(() => codecFor<bigint>('u64').encode(1 as unknown as bigint)).toThrow(
      'u64: expected a bigint',
    );
  });

  it('refuses to decode a short buffer', () => {
    expect(() => codecFor(Event).decode(Buffer.alloc(10))).toThrow(
      'weft_event: 10 bytes, layout needs 64',
    );
  });

  it('decodes a ring buffer record into a named event', () => {
    const a = encodeAddr('10.1.2.3');
    const raw = codecFor(Event).encode({
      ts_ns: 99n,
      cgroup_id: 1234n,
      cookie: 5n,
      workload_id: 7,
      policy_id: 42,
      addr: a.bytes,
      port: 8080,
      family: a.family,
      rule: 3,
      kind: 1,
      verdict: 2,
      protocol: 17,
    });
    expect(decodeEvent(raw)).toEqual({
      tsNs: 99n,
      cgroupId: 1234n,
      cookie: 5n,
      workloadId: 7,
      policyId: 42,
      rule: 3,
      kind: 'connect',
      verdict: 'deny',
      addr: '10.1.2.3',
      port: 8080,
      protocol: 'UDP',
    });
  });
});

describe('addresses', () => {
  it.each([
    ['10.0.0.1', 2, '0a000001000000000000000000000000'],
    ['::1', 10, '00000000000000000000000000000001'],
    ['fd00:199::1', 10, 'fd000199000000000000000000000001'],
    ['::ffff:10.0.0.1', 10, '00000000000000000000ffff0a000001'],
    ['2001:db8:1:2:3:4:5:6', 10, '20010db8000100020003000400050006'],
    ['fe80::', 10, 'fe800000000000000000000000000000'],
  ])('encodes %s', (ip, family, hex) => {
    const a = encodeAddr(ip);
    expect(a.family).toBe(family);
    expect(a.bytes.toString('hex')).toBe(hex);
  });

  it.each(['10.0.0.1', '::1', 'fd00:199::1', '2001:db8:1:2:3:4:5:6', 'fe80::', '::', '1::2:0:0:3'])(
    'round-trips %s',
    (ip) => {
      const a = encodeAddr(ip);
      expect(decodeAddr(a.family, a.bytes)).toBe(ip);
    },
  );

  it('rejects what is not an address', () => {
    expect(() => encodeAddr('10.0.0.256')).toThrow('not an IP address: 10.0.0.256');
  });
});
