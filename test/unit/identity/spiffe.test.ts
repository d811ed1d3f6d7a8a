import { describe, expect, it } from 'vitest';
import {
  parseSpiffeId,
  parseSpiffeUri,
  principal,
  spiffeId,
  trustDomainId,
} from '../../../agent/src/identity/spiffe/spiffe.ts';

describe('spiffeId', () => {
  it('builds the weft form', () => {
    expect(spiffeId('cluster.local', 'default', 'web')).toBe(
      'spiffe://cluster.local/ns/default/sa/web',
    );
  });

  it('refuses parts that cannot appear in an ID', () => {
    expect(() => spiffeId('Cluster.Local', 'default', 'web')).toThrow(/trust domain/);
    expect(() => spiffeId('cluster.local', '', 'web')).toThrow(/empty namespace/);
    expect(() => spiffeId('cluster.local', 'default', 'a/b')).toThrow(/service account/);
    expect(() => spiffeId('cluster.local', '..', 'web')).toThrow(/'\.' or '\.\.'/);
  });
});

describe('parseSpiffeId', () => {
  it('splits a weft ID into its parts', () => {
    expect(parseSpiffeId('spiffe://cluster.local/ns/default/sa/web')).toEqual({
      trustDomain: 'cluster.local',
      namespace: 'default',
      serviceAccount: 'web',
    });
    expect(parseSpiffeId('spiffe://prod_1.example-corp/ns/kube-system/sa/my.sa-1')).toEqual({
      trustDomain: 'prod_1.example-corp',
      namespace: 'kube-system',
      serviceAccount: 'my.sa-1',
    });
  });

  it.each([
    ['http://cluster.local/ns/a/sa/b', /scheme must be 'spiffe:\/\/'/],
    ['SPIFFE://cluster.local/ns/a/sa/b', /scheme/],
    ['cluster.local/ns/a/sa/b', /scheme/],
    ['spiffe://cluster.local/ns/a/sa/b?x=1', /query not allowed/],
    ['spiffe://cluster.local/ns/a/sa/b#frag', /fragment not allowed/],
    ['spiffe:///ns/a/sa/b', /empty trust domain/],
    ['spiffe://Cluster.local/ns/a/sa/b', /only lower-case letters/],
    ['spiffe://cluster.local:8080/ns/a/sa/b', /port not allowed/],
    ['spiffe://user@cluster.local/ns/a/sa/b', /user info not allowed/],
    ['spiffe://cluster.local/ns//sa/b', /empty path segment/],
    ['spiffe://cluster.local/ns/a/sa/b/', /empty path segment/],
    ['spiffe://cluster.local/', /trailing slash/],
    ['spiffe://cluster.local/ns/./sa/b', /'\.' or '\.\.'/],
    ['spiffe://cluster.local/ns/a%20b/sa/b', /may hold only/],
    ['spiffe://cluster.local', /path must be '\/ns\/<namespace>\/sa\/<service-account>'/],
    ['spiffe://cluster.local/ns/a/sa', /path must be/],
    ['spiffe://cluster.local/ns/a/sa/b/c', /path must be/],
    ['spiffe://cluster.local/namespace/a/sa/b', /path must be/],
    ['spiffe://cluster.local/ns/a/serviceaccount/b', /path must be/],
    ['', /scheme/],
  ])('rejects %j', (id, why) => {
    expect(() => parseSpiffeId(id)).toThrow(why);
    expect(() => parseSpiffeId(id)).toThrow(/^invalid SPIFFE ID/);
  });

  it('rejects an ID longer than 2048 bytes', () => {
    expect(() => parseSpiffeId(`spiffe://td/ns/a/sa/${'b'.repeat(2048)}`)).toThrow(/2048 bytes/);
  });
});

describe('parseSpiffeUri', () => {
  it('accepts any SPIFFE path and a bare trust domain', () => {
    expect(parseSpiffeUri('spiffe://example.org/a/b/c')).toEqual({
      trustDomain: 'example.org',
      segments: ['a', 'b', 'c'],
    });
    expect(parseSpiffeUri('spiffe://example.org')).toEqual({
      trustDomain: 'example.org',
      segments: [],
    });
  });
});

describe('principal and trustDomainId', () => {
  it('drops the scheme, Istio style', () => {
    expect(principal('spiffe://cluster.local/ns/default/sa/web')).toBe(
      'cluster.local/ns/default/sa/web',
    );
    expect(() => principal('https://cluster.local/ns/default/sa/web')).toThrow(/scheme/);
  });

  it('names the trust domain itself', () => {
    expect(trustDomainId('cluster.local')).toBe('spiffe://cluster.local');
    expect(() => trustDomainId('a b')).toThrow(/invalid trust domain/);
  });
});
