// What the HBONE server decides from a CONNECT request's headers and its
// verified peer alone, before any socket is dialled: the target (this pod's
// own address and a port) and the client's address. The client's address is
// what NetworkPolicy ipBlocks and AuthorizationPolicy source.ip rules see, so
// it is believed only when it belongs to a pod whose SPIFFE ID is the peer
// certificate's: a node holding the certificate of one of its own pods cannot
// claim another pod's address. Pure, so the fuzz target runs exactly this.
import { isIP } from 'node:net';
import type { Pod } from '../../state/index.ts';

export interface FrontContext {
  /** The address this server serves (the pod's). */
  readonly podIP: string;
  /** Every address of the pod (dual stack): a CONNECT may name any of them. */
  readonly podIPs?: readonly string[];
  readonly trustDomain: string;
  /** Every known pod by address: whose address the client claims. */
  readonly podsByIP: ReadonlyMap<string, Pod>;
}

export interface FrontPeer {
  /** The SPIFFE ID of the verified peer certificate. */
  readonly id: string | undefined;
  /** The TCP peer address of the tunnel's connection. */
  readonly address: string | undefined;
}

export type FrontVerdict =
  | {
      readonly ok: true;
      readonly ip: string;
      readonly port: number;
      /** The client pod's address, verified against the peer's identity. */
      readonly sourceIp: string;
    }
  | {
      readonly ok: false;
      readonly status: 400 | 403 | 404 | 405;
      readonly detail: string;
      /** The peer claimed an address that is not one of its identity's pods: an attack. */
      readonly spoofed?: boolean;
    };

/** Longest Forwarded value read: one `for="[v6]"` element is under 60 bytes. */
export const MAX_FORWARDED = 256;
/** Longest :authority read: `[v6]:port` is under 60 bytes. */
export const MAX_AUTHORITY = 256;

const show = (s: string) => JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}…` : s);

/** `ip:port` or `[ipv6]:port` with a literal address; undefined for anything else. */
export function parseAuthority(a: string): { ip: string; port: number } | undefined {
  if (a.length > MAX_AUTHORITY) return undefined;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d{1,5})$/.exec(a);
  if (!m) return undefined;
  const ip = m[1] ?? m[2]!;
  const want = m[1] !== undefined ? 6 : 4;
  const port = Number(m[3]);
  return isIP(ip) === want && port > 0 && port < 65536 ? { ip, port } : undefined;
}

/**
 * The address in `Forwarded: for=...` (RFC 7239): exactly one element with exactly
 * one `for` parameter naming a literal address, quoted or not (an IPv6 one quoted,
 * bracketed or not, as weft's clients send it). An Error names what else it held.
 */
export function parseForwarded(v: string): string | Error {
  if (v.length > MAX_FORWARDED) return new Error(`Forwarded longer than ${MAX_FORWARDED} bytes`);
  if (v.includes(',')) return new Error('Forwarded names more than one hop');
  let found: string | undefined;
  for (const pair of v.split(';')) {
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq < 0 ? pair.length : eq).trim();
    if (name.toLowerCase() !== 'for' || eq < 0) {
      return new Error(`Forwarded parameter ${show(name)} is not supported`);
    }
    if (found !== undefined) return new Error('Forwarded names "for" twice');
    let value = pair.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
      value = value.slice(1, -1);
    }
    if (value.startsWith('[') && value.endsWith(']')) value = value.slice(1, -1);
    if (isIP(value) === 0) return new Error(`Forwarded for=${show(value)} is not an address`);
    found = value;
  }
  return found ?? new Error('Forwarded has no "for"');
}

/** An IPv4 address as a dual-stack socket reports it (`::ffff:a.b.c.d`) in its own form. */
function plain(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

function one(v: unknown): string | undefined | Error {
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v;
  return new Error('header given more than once');
}

/**
 * The decision on one CONNECT. Without a Forwarded header the client's address is the
 * tunnel's TCP peer address, checked the same way: it too must be a pod of the peer's
 * identity (a node can open the tunnel from any of its pods' network namespaces).
 */
export function checkConnect(
  headers: Readonly<Record<string, unknown>>,
  peer: FrontPeer,
  ctx: FrontContext,
): FrontVerdict {
  if (headers[':method'] !== 'CONNECT') {
    return { ok: false, status: 405, detail: 'not a CONNECT request' };
  }
  const id = peer.id;
  if (!id?.startsWith(`spiffe://${ctx.trustDomain}/`)) {
    return { ok: false, status: 403, detail: 'peer has no SPIFFE ID of this trust domain' };
  }
  const authority = one(headers[':authority']);
  if (authority instanceof Error)
    return { ok: false, status: 400, detail: `:authority ${authority.message}` };
  const target = authority === undefined ? undefined : parseAuthority(authority);
  if (!target || (target.ip !== ctx.podIP && !ctx.podIPs?.includes(target.ip))) {
    return { ok: false, status: 404, detail: `unknown target ${show(authority ?? '')}` };
  }
  const fwd = one(headers.forwarded);
  if (fwd instanceof Error) return { ok: false, status: 400, detail: `Forwarded ${fwd.message}` };
  let claimed: string;
  if (fwd === undefined) {
    if (!peer.address) return { ok: false, status: 400, detail: 'no client address' };
    claimed = plain(peer.address);
  } else {
    const f = parseForwarded(fwd);
    if (f instanceof Error) return { ok: false, status: 400, detail: f.message };
    claimed = plain(f);
  }
  const pod = ctx.podsByIP.get(claimed);
  const podId =
    pod && `spiffe://${ctx.trustDomain}/ns/${pod.namespace}/sa/${pod.serviceAccountName}`;
  if (podId !== id) {
    return {
      ok: false,
      status: 403,
      spoofed: true,
      detail: pod
        ? `client address ${claimed} is pod ${pod.namespace}/${pod.name}, not of ${id}`
        : `client address ${claimed} is no known pod's, so not of ${id}`,
    };
  }
  return { ok: true, ip: target.ip, port: target.port, sourceIp: claimed };
}
