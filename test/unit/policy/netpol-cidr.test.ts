import { isIP } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  cidrProblem,
  contains,
  isSubnet,
  parseCidr,
  parseIP,
} from '../../../agent/src/state/cidr.ts';

describe('parseIP', () => {
  it('reads IPv4 and IPv6 in their usual spellings', () => {
    expect(parseIP('10.1.2.3')).toEqual({ family: 4, value: 0x0a010203n });
    expect(parseIP('::')).toEqual({ family: 6, value: 0n });
    expect(parseIP('::1')).toEqual({ family: 6, value: 1n });
    expect(parseIP('2001:db8::1')).toEqual({ family: 6, value: (0x20010db8n << 96n) | 1n });
    expect(parseIP('1:2:3:4:5:6:7::')).toEqual({
      family: 6,
      value: 0x00010002000300040005000600070000n,
    });
    expect(parseIP('::ffff:10.0.0.1')).toEqual({ family: 6, value: 0xffff0a000001n });
    expect(parseIP('2001:DB8:0:0:0:0:0:1')).toEqual(parseIP('2001:db8::1'));
  });

  it('agrees with node:net on what is an address', () => {
    const samples = [
      '1.2.3.4',
      '255.255.255.255',
      '256.1.1.1',
      '01.2.3.4',
      '1.2.3',
      '1.2.3.4.5',
      '',
      'a.b.c.d',
      '::',
      ':::',
      '1::2::3',
      '1:2:3:4:5:6:7:8',
      '1:2:3:4:5:6:7:8:9',
      '12345::',
      'g::',
      '::ffff:1.2.3.4',
      '1.2.3.4::',
      '::1.2.3',
      ':1::',
      '1::2:',
      '1:2:3:4:5:6:1.2.3.4',
      '1:2:3:4:5:6:7:1.2.3.4',
    ];
    for (const s of samples) expect([s, parseIP(s)?.family ?? 0]).toEqual([s, isIP(s)]);
  });

  it('refuses zones, which no policy can name', () => {
    expect(parseIP('fe80::1%eth0')).toBeUndefined();
  });
});

describe('parseCidr', () => {
  it('clears host bits, as Kubernetes reads 10.0.0.7/8', () => {
    expect(parseCidr('10.0.0.7/8')).toEqual({ family: 4, network: 0x0a000000n, prefix: 8 });
    expect(parseCidr('0.0.0.0/0')).toEqual({ family: 4, network: 0n, prefix: 0 });
    expect(parseCidr('2001:db8::1/32')).toEqual({
      family: 6,
      network: 0x20010db8n << 96n,
      prefix: 32,
    });
  });

  it('reads an IPv4-mapped block of /96 or longer as IPv4', () => {
    expect(parseCidr('::ffff:10.0.0.0/104')).toEqual({
      family: 4,
      network: 0x0a000000n,
      prefix: 8,
    });
    expect(parseCidr('::ffff:0:0/80')).toEqual({ family: 6, network: 0n, prefix: 80 });
  });

  it('refuses missing or out-of-range prefixes and bad addresses', () => {
    for (const s of [
      '10.0.0.0',
      '10.0.0.0/33',
      '10.0.0.0/',
      '10.0.0.0/08',
      '10.0.0.0/-1',
      '::/129',
      '300.0.0.0/8',
      'x/8',
      '10.0.0.0/8/8',
    ])
      expect([s, parseCidr(s)]).toEqual([s, undefined]);
  });

  it('says what was expected', () => {
    expect(cidrProblem('10.0.0.0/33')).toBe(
      'expected a prefix length from 0 to 32 after an IPv4 address',
    );
    expect(cidrProblem('::/200')).toBe(
      'expected a prefix length from 0 to 128 after an IPv6 address',
    );
    expect(cidrProblem('10.0.0.0')).toBe('expected a CIDR such as 10.0.0.0/8 or 2001:db8::/32');
  });
});

describe('contains', () => {
  it('tests IPv4 and IPv6 membership, edges included', () => {
    expect(contains('10.0.0.0/8', '10.0.0.0')).toBe(true);
    expect(contains('10.0.0.0/8', '10.255.255.255')).toBe(true);
    expect(contains('10.0.0.0/8', '11.0.0.0')).toBe(false);
    expect(contains('10.1.2.3/32', '10.1.2.3')).toBe(true);
    expect(contains('10.1.2.3/32', '10.1.2.4')).toBe(false);
    expect(contains('0.0.0.0/0', '203.0.113.9')).toBe(true);
    expect(contains('2001:db8::/32', '2001:db8:ffff::1')).toBe(true);
    expect(contains('2001:db8::/32', '2001:db9::1')).toBe(false);
    expect(contains('::/0', '::1')).toBe(true);
  });

  it('never matches across families, except IPv4-mapped addresses against IPv4 blocks', () => {
    expect(contains('0.0.0.0/0', '::1')).toBe(false);
    expect(contains('::/0', '10.0.0.1')).toBe(false);
    expect(contains('10.0.0.0/8', '::ffff:10.9.9.9')).toBe(true);
    expect(contains('10.0.0.0/8', '::ffff:11.9.9.9')).toBe(false);
    expect(contains('::ffff:10.0.0.0/104', '10.9.9.9')).toBe(true);
  });

  it('is false for anything unparsable', () => {
    expect(contains('10.0.0.0/8', 'not-an-ip')).toBe(false);
    expect(contains('bogus', '10.0.0.1')).toBe(false);
  });
});

describe('isSubnet', () => {
  it('is true for blocks inside, equal included, and false otherwise', () => {
    expect(isSubnet('10.1.0.0/16', '10.0.0.0/8')).toBe(true);
    expect(isSubnet('10.0.0.0/8', '10.0.0.0/8')).toBe(true);
    expect(isSubnet('10.0.0.0/8', '10.1.0.0/16')).toBe(false);
    expect(isSubnet('11.0.0.0/16', '10.0.0.0/8')).toBe(false);
    expect(isSubnet('2001:db8:1::/48', '2001:db8::/32')).toBe(true);
    expect(isSubnet('::ffff:10.1.0.0/112', '10.0.0.0/8')).toBe(true);
    expect(isSubnet('2001:db8::/48', '10.0.0.0/8')).toBe(false);
  });
});
