// IPv4 and IPv6 addresses and CIDR blocks as numbers, for NetworkPolicy ipBlocks.
// Strict spelling (no leading zeros, no zones): a policy should not depend on how
// an ambiguous address would be read.

export type Family = 4 | 6;

export interface Address {
  readonly family: Family;
  readonly value: bigint;
}

/** A block with its host bits cleared: `10.0.0.7/8` is read as 10.0.0.0/8, as Kubernetes does. */
export interface Cidr {
  readonly family: Family;
  readonly network: bigint;
  readonly prefix: number;
}

const bits = (f: Family): number => (f === 4 ? 32 : 128);

export function parseIP(s: string): Address | undefined {
  const v4 = parseIPv4(s);
  if (v4 !== undefined) return { family: 4, value: v4 };
  const v6 = parseIPv6(s);
  return v6 === undefined ? undefined : { family: 6, value: v6 };
}

/** An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is its IPv4 address, as in Go's net.IP. */
export function unmap(a: Address): Address {
  return a.family === 6 && a.value >> 32n === 0xffffn
    ? { family: 4, value: a.value & 0xffffffffn }
    : a;
}

export function parseCidr(s: string): Cidr | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const addr = parseIP(s.slice(0, slash));
  const p = s.slice(slash + 1);
  if (!addr || !/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
  const prefix = Number(p);
  if (prefix > bits(addr.family)) return undefined;
  const network = addr.value & mask(addr.family, prefix);
  // ::ffff:10.0.0.0/104 is 10.0.0.0/8 to Go's IPNet, which Kubernetes' validation uses.
  if (addr.family === 6 && prefix >= 96 && network >> 32n === 0xffffn)
    return { family: 4, network: network & 0xffffffffn, prefix: prefix - 96 };
  return { family: addr.family, network, prefix };
}

/** What is wrong with a CIDR parseCidr refused, as the `expected ...` part of a message. */
export function cidrProblem(s: string): string {
  const slash = s.indexOf('/');
  const addr = slash < 0 ? parseIP(s) : parseIP(s.slice(0, slash));
  if (slash >= 0 && addr) {
    const max = bits(addr.family);
    return `expected a prefix length from 0 to ${max} after an IPv${addr.family} address`;
  }
  return 'expected a CIDR such as 10.0.0.0/8 or 2001:db8::/32';
}

// The proxy asks `contains` for every ipBlock of every policy that selects a
// pod, on every connection: the same few strings each time, so each is parsed
// once. The caches start over when they grow past what any cluster's policies
// and pods would fill.
const CACHE_MAX = 65536;
const cidrCache = new Map<string, Cidr | null>();
const ipCache = new Map<string, Address | null>();

function cachedCidr(s: string): Cidr | undefined {
  let c = cidrCache.get(s);
  if (c === undefined) {
    if (cidrCache.size >= CACHE_MAX) cidrCache.clear();
    c = parseCidr(s) ?? null;
    cidrCache.set(s, c);
  }
  return c ?? undefined;
}

/** An address as `contains` compares it: an IPv4-mapped IPv6 address is its IPv4 address. */
function cachedIP(s: string): Address | undefined {
  let a = ipCache.get(s);
  if (a === undefined) {
    if (ipCache.size >= CACHE_MAX) ipCache.clear();
    const p = parseIP(s);
    a = p ? unmap(p) : null;
    ipCache.set(s, a);
  }
  return a ?? undefined;
}

export function contains(cidr: Cidr | string, ip: Address | string): boolean {
  const c = typeof cidr === 'string' ? cachedCidr(cidr) : cidr;
  const u = typeof ip === 'string' ? cachedIP(ip) : ip && unmap(ip);
  if (!c || !u) return false;
  return u.family === c.family && (u.value & mask(c.family, c.prefix)) === c.network;
}

/** inner ⊆ outer (equal blocks included; compare prefixes for a strict subset). */
export function isSubnet(inner: Cidr | string, outer: Cidr | string): boolean {
  const i = typeof inner === 'string' ? parseCidr(inner) : inner;
  const o = typeof outer === 'string' ? parseCidr(outer) : outer;
  if (!i || !o || i.family !== o.family || i.prefix < o.prefix) return false;
  return (i.network & mask(o.family, o.prefix)) === o.network;
}

const masks = {
  4: Array.from({ length: 33 }, (_, p) => makeMask(32, p)),
  6: Array.from({ length: 129 }, (_, p) => makeMask(128, p)),
};

function makeMask(n: number, prefix: number): bigint {
  return prefix === 0 ? 0n : ((1n << BigInt(prefix)) - 1n) << BigInt(n - prefix);
}

function mask(f: Family, prefix: number): bigint {
  return masks[f][prefix]!;
}

function parseIPv4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) return undefined;
    v = (v << 8n) | BigInt(p);
  }
  return v;
}

function parseIPv6(s: string): bigint | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return undefined;
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const head = groups(halves[0] ?? '', halves.length === 1);
  const tail = halves.length === 2 ? groups(halves[1] ?? '', true) : [];
  if (!head || !tail) return undefined;
  const n = head.length + tail.length;
  if (halves.length === 1 ? n !== 8 : n > 7) return undefined;
  const all = [...head, ...Array<number>(8 - n).fill(0), ...tail];
  return all.reduce((v, g) => (v << 16n) | BigInt(g), 0n);
}

/** Colon-separated hex groups; an IPv4 tail (only when `last`) counts as two. */
function groups(s: string, last: boolean): number[] | undefined {
  if (s === '') return [];
  const parts = s.split(':');
  const out: number[] = [];
  for (const [i, p] of parts.entries()) {
    if (last && i === parts.length - 1 && p.includes('.')) {
      const v4 = parseIPv4(p);
      if (v4 === undefined) return undefined;
      out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
    } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) {
      out.push(Number.parseInt(p, 16));
    } else {
      return undefined;
    }
  }
  return out;
}

/** An ipBlocks entry: a CIDR, or a single address standing for /32 or /128. */
export function toCidr(block: string): Cidr | undefined {
  if (block.includes('/')) return parseCidr(block);
  const a = parseIP(block);
  return a === undefined ? undefined : single(unmap(a));
}

function single(a: Address): Cidr {
  return { family: a.family, network: a.value, prefix: a.family === 4 ? 32 : 128 };
}
