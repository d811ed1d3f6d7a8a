// One spelling of each request target for policy and for the app.
import { describe, expect, it } from 'vitest';
import { normalizeTarget } from '../../../agent/src/policy/http-path.ts';

describe('normalizeTarget', () => {
  it.each([
    ['/admin', '/admin'],
    ['/public/../admin', '/admin'],
    ['/public/./../admin/', '/admin/'],
    ['/../../admin', '/admin'],
    ['//admin', '/admin'],
    ['/a//b///c', '/a/b/c'],
    ['/%61dmin', '/admin'],
    ['/%7euser/%2e%2e/admin', '/admin'],
    ['/a%2Fb', '/a%2Fb'],
    ['/a%2fb', '/a%2Fb'],
    ['/items?x=../y#frag', '/items?x=../y'],
    ['http://cart:8080/admin?q=1', '/admin?q=1'],
    ['https://cart', '/'],
    ['/items/.', '/items/'],
    ['/items/..', '/'],
  ])('%s → %s', (raw, want) => {
    expect(normalizeTarget(raw)).toBe(want);
  });

  it.each(['*', 'admin', 'cart:8080', '/bad%zz', '/bad%4'])(
    '%s is not an origin-form target',
    (raw) => {
      expect(normalizeTarget(raw)).toBeUndefined();
    },
  );
});
