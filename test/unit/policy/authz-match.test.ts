import { describe, expect, it } from 'vitest';
import {
  matchHeader,
  matchIpBlock,
  matchNamespace,
  matchPort,
  matchString,
} from '../../../agent/src/policy/authz-match.ts';

describe('authz matchers', () => {
  it('matchString: presence wants a non-empty value; absent never matches', () => {
    expect(matchString('*', 'x')).toBe(true);
    expect(matchString('*', '')).toBe(false);
    expect(matchString('*', undefined)).toBe(false);
    expect(matchString('a*', 'a')).toBe(true);
    expect(matchString('*a', 'a')).toBe(true);
    expect(matchString('a*b', 'axb')).toBe(false);
    expect(matchString('a*b', 'a*b')).toBe(true);
  });

  it('matchNamespace: every * is a wildcard, as in the regex Istio generates', () => {
    expect(matchNamespace('team-*-prod', 'team-a-prod')).toBe(true);
    expect(matchNamespace('team-*-prod', 'team-prod')).toBe(false);
    expect(matchNamespace('a*a', 'a')).toBe(false);
    expect(matchNamespace('a*a', 'aa')).toBe(true);
    expect(matchNamespace('*', undefined)).toBe(false);
  });

  it('matchHeader: * means present, even empty', () => {
    expect(matchHeader('*', { 'x-a': '' }, 'X-A')).toBe(true);
    expect(matchHeader('*', {}, 'x-a')).toBe(false);
    expect(matchHeader('', { 'x-a': '' }, 'x-a')).toBe(true);
  });

  it('matchPort and matchIpBlock refuse what they cannot read', () => {
    expect(matchPort('8080', 8080)).toBe(true);
    expect(matchPort('08080', 8080)).toBe(true);
    expect(matchPort('http', 80)).toBe(false);
    expect(matchIpBlock('10.0.0.7/8', '10.200.0.1')).toBe(true);
    expect(matchIpBlock('::ffff:10.0.0.1', '10.0.0.1')).toBe(true);
    expect(matchIpBlock('nonsense', '10.0.0.1')).toBe(false);
    expect(matchIpBlock('10.0.0.0/8', 'nonsense')).toBe(false);
  });
});
