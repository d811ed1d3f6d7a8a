// The value matchers of AuthorizationPolicy, with the meaning Istio gives them when
// it generates Envoy RBAC: `*` alone is presence, `*abc` a suffix, `abc*` a prefix,
// anything else exact.
import { contains, toCidr } from '../state/index.ts';

/** Istio's string match. An absent value never matches; `*` wants a non-empty one. */
export function matchString(pattern: string, value: string | undefined): boolean {
  if (value === undefined) return false;
  if (pattern === '*') return value !== '';
  if (pattern.startsWith('*')) return value.endsWith(pattern.slice(1));
  if (pattern.endsWith('*')) return value.startsWith(pattern.slice(0, -1));
  return value === pattern;
}

// Principals are plain strings to match: `cluster.local/ns/shop/sa/web`, a `*` prefix or suffix.
export const matchPrincipal = matchString;

/**
 * Istio turns every `*` of a namespace into `.*` inside a regex on the principal, so a
 * namespace pattern is a glob: `shop-*`, `*-prod`, `team-*-prod`, `*`.
 */
export function matchNamespace(pattern: string, namespace: string | undefined): boolean {
  if (namespace === undefined) return false;
  const parts = pattern.split('*');
  if (parts.length === 1) return namespace === pattern;
  const first = parts[0] ?? '';
  const last = parts[parts.length - 1] ?? '';
  if (!namespace.startsWith(first)) return false;
  let at = first.length;
  for (const part of parts.slice(1, -1)) {
    const found = namespace.indexOf(part, at);
    if (found < 0) return false;
    at = found + part.length;
  }
  return namespace.length - last.length >= at && namespace.endsWith(last);
}

/** Hosts compare case-insensitively (Istio fixed a bypass with mixed-case Host headers). */
export function matchHost(pattern: string, host: string): boolean {
  return matchString(pattern.toLowerCase(), host.toLowerCase());
}

/** Methods compare exactly: `GET` is not `get`. */
export function matchMethod(pattern: string, method: string): boolean {
  return pattern === method;
}

/** Envoy matches the path without its query string and fragment. */
export function matchPath(pattern: string, path: string): boolean {
  return matchString(pattern, pathOnly(path));
}

export function pathOnly(path: string): string {
  const end = path.search(/[?#]/);
  return end < 0 ? path : path.slice(0, end);
}

/** A header by name in any case; `*` means present, even with an empty value. */
export function matchHeader(
  pattern: string,
  headers: Readonly<Record<string, string>>,
  name: string,
): boolean {
  const value = headerValue(headers, name);
  if (value === undefined) return false;
  return pattern === '*' || matchString(pattern, value);
}

export function headerValue(
  headers: Readonly<Record<string, string>>,
  name: string,
): string | undefined {
  const direct = headers[name];
  if (direct !== undefined) return direct;
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

/** A port as Istio writes it (`"8080"`) against a number. */
export function matchPort(pattern: string, port: number): boolean {
  return /^[0-9]+$/.test(pattern) && Number(pattern) === port;
}

/**
 * An ipBlocks entry: a CIDR, or a single address standing for /32 or /128.
 * IPv4-mapped IPv6 addresses (how a dual-stack socket reports IPv4 peers) count as IPv4.
 */
export function matchIpBlock(block: string, ip: string): boolean {
  const cidr = toCidr(block);
  return cidr !== undefined && contains(cidr, ip);
}
