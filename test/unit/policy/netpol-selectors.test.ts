import { describe, expect, it } from 'vitest';
import {
  describeSelector,
  type LabelSelector,
  selects,
} from '../../../agent/src/policy/selectors.ts';
import { parseLabelSelector } from '../../../agent/src/sources/policy/selector-parse.ts';

function parse(raw: unknown) {
  const errors: [string, string][] = [];
  const selector = parseLabelSelector(raw, 'spec.podSelector', (f, m) => errors.push([f, m]));
  return { selector, errors };
}

describe('selects', () => {
  const web = { app: 'web', tier: 'front' };

  it('an empty selector selects everything, even no labels', () => {
    expect(selects({}, {})).toBe(true);
    expect(selects({}, web)).toBe(true);
  });

  it('matchLabels needs every pair', () => {
    expect(selects({ matchLabels: { app: 'web' } }, web)).toBe(true);
    expect(selects({ matchLabels: { app: 'web', tier: 'back' } }, web)).toBe(false);
    expect(selects({ matchLabels: { env: '' } }, web)).toBe(false);
    expect(selects({ matchLabels: { env: '' } }, { env: '' })).toBe(true);
  });

  it('applies each operator as Kubernetes does', () => {
    const sel = (operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist', values?: string[]) =>
      ({
        matchExpressions: [{ key: 'tier', operator, ...(values ? { values } : {}) }],
      }) as LabelSelector;
    expect(selects(sel('In', ['front', 'back']), web)).toBe(true);
    expect(selects(sel('In', ['back']), web)).toBe(false);
    expect(selects(sel('In', ['front']), {})).toBe(false);
    expect(selects(sel('NotIn', ['back']), web)).toBe(true);
    expect(selects(sel('NotIn', ['front']), web)).toBe(false);
    // A missing key is "not in" any set.
    expect(selects(sel('NotIn', ['front']), {})).toBe(true);
    expect(selects(sel('Exists'), web)).toBe(true);
    expect(selects(sel('Exists'), { app: 'web' })).toBe(false);
    expect(selects(sel('DoesNotExist'), web)).toBe(false);
    expect(selects(sel('DoesNotExist'), { app: 'web' })).toBe(true);
  });

  it('ANDs matchLabels and matchExpressions', () => {
    const s: LabelSelector = {
      matchLabels: { app: 'web' },
      matchExpressions: [{ key: 'tier', operator: 'In', values: ['back'] }],
    };
    expect(selects(s, web)).toBe(false);
    expect(selects(s, { app: 'web', tier: 'back' })).toBe(true);
  });

  it('does not see inherited object keys as labels', () => {
    expect(selects({ matchExpressions: [{ key: 'constructor', operator: 'Exists' }] }, {})).toBe(
      false,
    );
  });
});

describe('describeSelector', () => {
  it('spells selectors as kubectl does', () => {
    expect(describeSelector({})).toBe('{}');
    expect(
      describeSelector({
        matchLabels: { app: 'web' },
        matchExpressions: [
          { key: 'tier', operator: 'In', values: ['a', 'b'] },
          { key: 'env', operator: 'NotIn', values: ['dev'] },
          { key: 'x', operator: 'Exists' },
          { key: 'y', operator: 'DoesNotExist' },
        ],
      }),
    ).toBe('{app=web, tier in (a,b), env notin (dev), x, !y}');
  });
});

describe('parseLabelSelector', () => {
  it('leaves absent selectors to the caller', () => {
    expect(parse(undefined)).toEqual({ selector: undefined, errors: [] });
    expect(parse(null)).toEqual({ selector: undefined, errors: [] });
  });

  it('reads a selector and drops empty parts', () => {
    expect(parse({})).toEqual({ selector: {}, errors: [] });
    expect(parse({ matchLabels: {}, matchExpressions: [] })).toEqual({ selector: {}, errors: [] });
    expect(
      parse({
        matchLabels: { 'app.kubernetes.io/name': 'web' },
        matchExpressions: [
          { key: 'tier', operator: 'In', values: ['a'] },
          { key: 'x', operator: 'Exists', values: [] },
        ],
      }),
    ).toEqual({
      selector: {
        matchLabels: { 'app.kubernetes.io/name': 'web' },
        matchExpressions: [
          { key: 'tier', operator: 'In', values: ['a'] },
          { key: 'x', operator: 'Exists' },
        ],
      },
      errors: [],
    });
  });

  it('reports every mistake with its path', () => {
    const { errors } = parse({
      matchlabels: { app: 'web' },
      matchLabels: { 'bad key!': 'x', app: 'no spaces', n: 1 },
      matchExpressions: [
        { key: 'a', operator: 'in', values: ['x'] },
        { key: 'b', operator: 'In' },
        { key: 'c', operator: 'NotIn', values: [] },
        { key: 'd', operator: 'Exists', values: ['x'] },
        { key: '', operator: 'Exists' },
        { key: 'e', operator: 'In', values: ['ok', 'not ok'] },
        'tier in (a)',
        { key: 'f', operator: 'Exists', value: 'x' },
      ],
    });
    const labelValue =
      "expected a label value (a string of at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit, or empty)";
    const labelKey =
      "expected a label key ([prefix/]name: name at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit; prefix a DNS-1123 subdomain)";
    expect(errors).toEqual([
      [
        'spec.podSelector.matchlabels',
        'expected only matchLabels and matchExpressions, found the field "matchlabels"',
      ],
      ['spec.podSelector.matchLabels["bad key!"]', `${labelKey}, found the string "bad key!"`],
      ['spec.podSelector.matchLabels.app', `${labelValue}, found the string "no spaces"`],
      ['spec.podSelector.matchLabels.n', 'expected a string (quote it), found the number 1'],
      [
        'spec.podSelector.matchExpressions[0].operator',
        'expected In, NotIn, Exists or DoesNotExist, found the string "in"',
      ],
      [
        'spec.podSelector.matchExpressions[1].values',
        'expected at least one value for In, found nothing',
      ],
      [
        'spec.podSelector.matchExpressions[2].values',
        'expected at least one value for NotIn, found an empty list',
      ],
      ['spec.podSelector.matchExpressions[3].values', 'expected no values for Exists, found 1'],
      ['spec.podSelector.matchExpressions[4].key', `${labelKey}, found the string ""`],
      [
        'spec.podSelector.matchExpressions[5].values[1]',
        `${labelValue}, found the string "not ok"`,
      ],
      [
        'spec.podSelector.matchExpressions[6]',
        'expected a map with key, operator and values, found the string "tier in (a)"',
      ],
      [
        'spec.podSelector.matchExpressions[7].value',
        'expected only key, operator and values, found the field "value"',
      ],
    ]);
  });

  it('refuses what is not a map or list where one belongs', () => {
    expect(parse('app=web').errors).toEqual([
      ['spec.podSelector', 'expected a label selector (a map), found the string "app=web"'],
    ]);
    expect(parse({ matchLabels: ['app'], matchExpressions: {} }).errors).toEqual([
      ['spec.podSelector.matchLabels', 'expected a map of labels, found a list'],
      ['spec.podSelector.matchExpressions', 'expected a list of requirements, found a map'],
    ]);
  });
});
