// Encoders and decoders for the layouts in layout.ts. A codec is built once per
// layout; encode can write into a caller's buffer so hot paths reuse memory.
import { isIPv4, isIPv6 } from 'node:net';
import { constants, type Layout, type PlacedField, place, type Scalar } from '../tables/index.ts';

export type FieldValue = number | bigint | Buffer;
export type Decoded = Record<string, FieldValue>;

export interface Codec<T> {
  readonly size: number;
  encode(value: T, into?: Buffer): Buffer;
  decode(buf: Buffer, offset?: number): T;
}

function writeScalar(buf: Buffer, t: Scalar, off: number, v: FieldValue, where: string): void {
  if (t === 'u64') {
    if (typeof v !== 'bigint') throw new TypeError(`${where}: expected a bigint`);
    buf.writeBigUInt64LE(v, off);
    return;
  }
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    throw new TypeError(`${where}: expected an integer`);
  }
  switch (t) {
    case 'u8':
      buf.writeUInt8(v, off);
      return;
    case 'u16':
      buf.writeUInt16LE(v, off);
      return;
    case 'u32':
      buf.writeUInt32LE(v, off);
      return;
    case 'be16':
      buf.writeUInt16BE(v, off);
      return;
    case 'be32':
      buf.writeUInt32BE(v, off);
      return;
  }
}

function readScalar(buf: Buffer, t: Scalar, off: number): number | bigint {
  switch (t) {
    case 'u8':
      return buf.readUInt8(off);
    case 'u16':
      return buf.readUInt16LE(off);
    case 'u32':
      return buf.readUInt32LE(off);
    case 'u64':
      return buf.readBigUInt64LE(off);
    case 'be16':
      return buf.readUInt16BE(off);
    case 'be32':
      return buf.readUInt32BE(off);
  }
}

function structCodec(fields: readonly PlacedField[], size: number, name: string): Codec<Decoded> {
  return {
    size,
    encode(value, into) {
      const buf = into ?? Buffer.alloc(size);
      if (into) buf.fill(0, 0, size);
      for (const fl of fields) {
        const v = value[fl.name];
        if (v === undefined) continue; // unset fields are zero
        if (typeof fl.type === 'string') {
          writeScalar(buf, fl.type, fl.offset, v, `${name}.${fl.name}`);
        } else {
          if (!Buffer.isBuffer(v) || v.length > fl.size) {
            throw new TypeError(
              `${name}.${fl.name}: expected a Buffer of at most ${fl.size} bytes`,
            );
          }
          v.copy(buf, fl.offset);
        }
      }
      return buf;
    },
    decode(buf, offset = 0) {
      if (buf.length - offset < size) {
        throw new RangeError(`${name}: ${buf.length - offset} bytes, layout needs ${size}`);
      }
      const out: Decoded = {};
      for (const fl of fields) {
        const at = offset + fl.offset;
        out[fl.name] =
          typeof fl.type === 'string'
            ? readScalar(buf, fl.type, at)
            : Buffer.from(buf.subarray(at, at + fl.size));
      }
      return out;
    },
  };
}

function scalarCodec(t: Scalar): Codec<number | bigint> {
  const size = { u8: 1, u16: 2, u32: 4, u64: 8, be16: 2, be32: 4 }[t];
  return {
    size,
    encode(value, into) {
      const buf = into ?? Buffer.alloc(size);
      writeScalar(buf, t, 0, value, t);
      return buf;
    },
    decode(buf, offset = 0) {
      return readScalar(buf, t, offset);
    },
  };
}

const cache = new Map<Layout, Codec<unknown>>();

/** The codec of a layout; built once and shared. */
export function codecFor<T = Decoded>(layout: Layout): Codec<T> {
  let c = cache.get(layout);
  if (!c) {
    if (typeof layout === 'string') {
      c = scalarCodec(layout);
    } else {
      const placed = place(layout);
      c = structCodec(placed.fields, placed.size, layout.name);
    }
    cache.set(layout, c);
  }
  return c as Codec<T>;
}

export interface Addr {
  family: number;
  bytes: Buffer; // 16 bytes; IPv4 in the first four
}

/** An address as the policy maps key it: 16 bytes, IPv4 as ::ffff:a.b.c.d. */
export function addr16(ip: string): Buffer {
  const a = encodeAddr(ip);
  const out = Buffer.alloc(16);
  if (a.family === constants.AF_INET) {
    out.writeUInt16BE(0xffff, 10);
    a.bytes.copy(out, 12, 0, 4);
  } else a.bytes.copy(out);
  return out;
}

/** An IP address in the datapath's form: family plus 16 bytes, IPv4 first. */
export function encodeAddr(ip: string): Addr {
  const bytes = Buffer.alloc(16);
  if (isIPv4(ip)) {
    ip.split('.').forEach((o, i) => {
      bytes[i] = Number(o);
    });
    return { family: constants.AF_INET, bytes };
  }
  if (!isIPv6(ip)) throw new TypeError(`not an IP address: ${ip}`);
  let text = ip;
  let v4: number[] | undefined;
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    // A dotted IPv4 tail fills the last two groups.
    v4 = text
      .slice(lastColon + 1)
      .split('.')
      .map(Number);
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const [head = '', tail] = text.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groups =
    tail === undefined
      ? headGroups
      : [
          ...headGroups,
          ...Array(8 - headGroups.length - tailGroups.length).fill('0'),
          ...tailGroups,
        ];
  groups.forEach((g, i) => {
    bytes.writeUInt16BE(Number.parseInt(g, 16), i * 2);
  });
  v4?.forEach((o, i) => {
    bytes[12 + i] = o;
  });
  return { family: constants.AF_INET6, bytes };
}

export function decodeAddr(family: number, bytes: Buffer): string {
  if (family === constants.AF_INET) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  // Compress the longest run of zero groups, as RFC 5952 asks.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}
