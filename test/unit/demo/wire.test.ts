// Reading a capture of the HBONE port: which segments are TLS records, and
// whether plaintext leaked.
import { describe, expect, it } from 'vitest';
import { summarizeCapture } from '../../../agent/src/demo/wire.ts';

function frame(dstPort: number, payload: Buffer): Buffer {
  const tcp = Buffer.alloc(20);
  tcp.writeUInt16BE(40000, 0);
  tcp.writeUInt16BE(dstPort, 2);
  tcp[12] = 5 << 4;
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + 20 + payload.length, 2);
  ip[9] = 6;
  const eth = Buffer.alloc(14);
  eth.writeUInt16BE(0x0800, 12);
  return Buffer.concat([eth, ip, tcp, payload]);
}

function pcap(frames: Buffer[]): Buffer {
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0xa1b2c3d4, 0);
  head.writeUInt16LE(2, 4);
  head.writeUInt16LE(4, 6);
  head.writeUInt32LE(262144, 16);
  head.writeUInt32LE(1, 20);
  const recs = frames.map((f) => {
    const h = Buffer.alloc(16);
    h.writeUInt32LE(f.length, 8);
    h.writeUInt32LE(f.length, 12);
    return Buffer.concat([h, f]);
  });
  return Buffer.concat([head, ...recs]);
}

const record = (type: number, body: string) =>
  Buffer.concat([Buffer.from([type, 3, 3, 0, body.length]), Buffer.from(body)]);

describe('summarizeCapture', () => {
  it('counts TLS records to the port and ignores other ports and empty segments', () => {
    const s = summarizeCapture(
      pcap([
        frame(15008, record(22, 'hello')),
        frame(15008, record(23, 'xxxxx')),
        frame(15008, Buffer.alloc(0)),
        frame(8080, record(23, 'yyyyy')),
      ]),
      15008,
      'cart saw',
    );
    expect(s).toEqual({ segments: 2, tlsRecords: 2, handshakes: 1, plaintextSeen: false });
  });

  it('tells plaintext from TLS, and spots the marker on any port', () => {
    const s = summarizeCapture(
      pcap([
        frame(15008, Buffer.from('GET / HTTP/1.1\r\n')),
        frame(9, Buffer.from('.. cart saw x')),
      ]),
      15008,
      'cart saw',
    );
    expect(s).toEqual({ segments: 1, tlsRecords: 0, handshakes: 0, plaintextSeen: true });
  });

  it('refuses what is not an Ethernet pcap', () => {
    expect(() => summarizeCapture(Buffer.alloc(24, 7), 1, 'x')).toThrow(/not a pcap/);
    const sll = pcap([]);
    sll.writeUInt32LE(113, 20);
    expect(() => summarizeCapture(sll, 1, 'x')).toThrow(/link type 113/);
  });
});
