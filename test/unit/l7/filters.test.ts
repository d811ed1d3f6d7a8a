// The request filters as the Gateway API spec defines them: header modifiers,
// path rewrites (full and prefix, whole segments), redirect Locations.
import { describe, expect, it } from 'vitest';
import { modifyHeaders, redirect, rewritePath } from '../../../agent/src/l7/filters.ts';
import type { CompiledMatch } from '../../../agent/src/tables/routes.ts';

const prefix = (path: string): CompiledMatch => ({
  pathType: 'PathPrefix',
  path,
  headers: [],
  queryParams: [],
});

describe('filters', () => {
  it('sets, adds (one comma-joined field) and removes headers', () => {
    const h: Record<string, string | string[] | number | undefined> = {
      'x-a': 'old',
      'x-b': ['1', '2'],
      'x-gone': 'y',
    };
    modifyHeaders(h, {
      set: [{ name: 'X-A', value: 'new' }],
      add: [
        { name: 'x-b', value: '3' },
        { name: 'x-c', value: 'c' },
      ],
      remove: ['x-gone'],
    });
    expect(h).toEqual({ 'x-a': 'new', 'x-b': '1,2,3', 'x-c': 'c' });
  });

  it('replaces a matched prefix by whole segments, and a full path', () => {
    const p = { type: 'ReplacePrefixMatch' as const, value: '/v2' };
    expect(rewritePath(p, prefix('/v1'), '/v1/items')).toBe('/v2/items');
    expect(rewritePath(p, prefix('/v1'), '/v1')).toBe('/v2');
    expect(rewritePath(p, prefix('/v1/'), '/v1/items')).toBe('/v2/items');
    const root = { type: 'ReplacePrefixMatch' as const, value: '/' };
    expect(rewritePath(root, prefix('/v1'), '/v1/items')).toBe('/items');
    expect(rewritePath(root, prefix('/v1'), '/v1')).toBe('/');
    expect(rewritePath({ type: 'ReplaceFullPath', value: '/x' }, prefix('/'), '/a/b')).toBe('/x');
  });

  it('builds a redirect Location from scheme, hostname, port and path', () => {
    const req = { scheme: 'http', host: 'svc.ns', port: 8080, path: '/a/b', query: 'q=1' };
    const m = prefix('/a');
    expect(redirect({ type: 'RequestRedirect', statusCode: 302 }, m, req)).toEqual({
      status: 302,
      location: 'http://svc.ns:8080/a/b?q=1',
    });
    // A scheme change without a port goes to the scheme's well-known port, left out.
    expect(
      redirect({ type: 'RequestRedirect', scheme: 'https', statusCode: 301 }, m, req).location,
    ).toBe('https://svc.ns/a/b?q=1');
    expect(
      redirect(
        {
          type: 'RequestRedirect',
          hostname: 'other',
          port: 80,
          path: { type: 'ReplacePrefixMatch', value: '/z' },
          statusCode: 308,
        },
        m,
        req,
      ).location,
    ).toBe('http://other/z/b?q=1');
  });
});
