// A rule's filters applied to one request: header modifiers, redirect, rewrite.
// Headers are the plain lower-case objects node:http and node:http2 take.
import type { HeaderModifier, PathModifier, RouteFilter } from '../state/index.ts';
import type { CompiledMatch } from '../tables/index.ts';

export type Headers = Record<string, string | string[] | number | undefined>;

export function modifyHeaders(h: Headers, m: HeaderModifier): void {
  for (let i = 0; i < m.set.length; i++) {
    const s = m.set[i]!;
    h[s.name.toLowerCase()] = s.value;
  }
  for (let i = 0; i < m.add.length; i++) {
    const a = m.add[i]!;
    const k = a.name.toLowerCase();
    const v = h[k];
    // Added to what is there, as one comma-joined field (RFC 9110 §5.3).
    h[k] = v === undefined ? a.value : `${Array.isArray(v) ? v.join(',') : v},${a.value}`;
  }
  for (let i = 0; i < m.remove.length; i++) delete h[m.remove[i]!];
}

/** The request's new path after a ReplaceFullPath or ReplacePrefixMatch (of the rule's prefix). */
export function rewritePath(p: PathModifier, match: CompiledMatch, path: string): string {
  if (p.type === 'ReplaceFullPath') return p.value;
  // Only a PathPrefix match has a prefix to replace (the parser refuses the others).
  let prefix = match.pathType === 'PathPrefix' ? match.path : '';
  if (prefix.endsWith('/')) prefix = prefix.slice(0, -1);
  const rest = path.slice(prefix.length);
  let out = p.value;
  if (out.endsWith('/') && rest.startsWith('/')) out = out.slice(0, -1);
  out += rest;
  if (out === '') return '/';
  return out.startsWith('/') ? out : `/${out}`;
}

/** What a request becomes once its rule's and backend's filters ran over it. */
export interface Rewritten {
  path: string;
  host: string | undefined;
}

export interface RedirectTo {
  status: number;
  location: string;
}

/** The Location of a RequestRedirect, as the spec builds it. */
export function redirect(
  f: Extract<RouteFilter, { type: 'RequestRedirect' }>,
  match: CompiledMatch,
  req: { scheme: string; host: string; port: number; path: string; query: string },
): RedirectTo {
  const scheme = f.scheme ?? req.scheme;
  const host = f.hostname ?? req.host;
  // No port given: the scheme's well-known port when the scheme changes, else the request's.
  const port = f.port ?? (f.scheme ? (scheme === 'https' ? 443 : 80) : req.port);
  const known = (scheme === 'http' && port === 80) || (scheme === 'https' && port === 443);
  const path = f.path ? rewritePath(f.path, match, req.path) : req.path;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const location = `${scheme}://${hostPart}${known ? '' : `:${port}`}${path}${req.query ? `?${req.query}` : ''}`;
  return { status: f.statusCode, location };
}

/**
 * Runs request-side filters (RequestHeaderModifier, URLRewrite) of one list over the
 * headers and target; returns a RequestRedirect when the list has one (it ends the request).
 */
export function requestFilters(
  filters: readonly RouteFilter[],
  h: Headers,
  out: Rewritten,
  match: CompiledMatch,
): Extract<RouteFilter, { type: 'RequestRedirect' }> | undefined {
  for (let i = 0; i < filters.length; i++) {
    const f = filters[i]!;
    switch (f.type) {
      case 'RequestHeaderModifier':
        modifyHeaders(h, f.modifier);
        break;
      case 'URLRewrite':
        if (f.hostname !== undefined) out.host = f.hostname;
        if (f.path) out.path = rewritePath(f.path, match, out.path);
        break;
      case 'RequestRedirect':
        return f;
      default:
        break;
    }
  }
  return undefined;
}

export function responseFilters(filters: readonly RouteFilter[], h: Headers): void {
  for (let i = 0; i < filters.length; i++) {
    const f = filters[i]!;
    if (f.type === 'ResponseHeaderModifier') modifyHeaders(h, f.modifier);
  }
}
