// Which headers cross the proxy: each hop has its own connection headers.
import type { IncomingHttpHeaders } from 'node:http';
import type { Headers } from './filters.ts';

// RFC 9110 §7.6.1, and HTTP/2's connection-specific ones (RFC 9113 §8.2.2).
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

const UPGRADE = new Set(['connection', 'upgrade', 'http2-settings']);

/** The message's headers without this hop's (and those its Connection header names), pseudo-headers dropped. */
export function endToEnd(h: IncomingHttpHeaders, keepUpgrade = false): Headers {
  const conn = h.connection;
  const named = conn ? conn.toLowerCase().split(',') : undefined;
  const out: Headers = {};
  for (const k in h) {
    const v = h[k];
    if (v === undefined || k.charCodeAt(0) === 58 /* : */) continue;
    // An upgrade keeps what the next hop needs to switch (h2c's HTTP2-Settings too).
    if (HOP_BY_HOP.has(k) && !(keepUpgrade && UPGRADE.has(k))) continue;
    if (named && !keepUpgrade && named.some((n) => n.trim() === k)) continue;
    out[k] = v;
  }
  // `te: trailers` is the one TE HTTP/2 and gRPC need end to end.
  if (h.te === 'trailers') out.te = 'trailers';
  return out;
}

/** Host without port, lower case; IPv6 literals keep their brackets off. */
export function hostOnly(authority: string): string {
  if (authority.charCodeAt(0) === 91 /* [ */) {
    const end = authority.indexOf(']');
    return (end > 0 ? authority.slice(1, end) : authority).toLowerCase();
  }
  const i = authority.indexOf(':');
  return (i < 0 ? authority : authority.slice(0, i)).toLowerCase();
}

/** Splits a request target into path and query (without `?`). */
export function splitTarget(target: string): { path: string; query: string } {
  const q = target.indexOf('?');
  return q < 0
    ? { path: target, query: '' }
    : { path: target.slice(0, q), query: target.slice(q + 1) };
}
