// Matching a Kubernetes label selector against labels.
import type { LabelSelector, LabelSelectorRequirement, Labels } from '../state/index.ts';

export type {
  LabelSelector,
  LabelSelectorRequirement,
  SelectorOperator,
} from '../state/index.ts';

/** Every requirement holds (an empty selector has none, so it selects everything). */
export function selects(selector: LabelSelector, labels: Labels): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {}))
    if (!Object.hasOwn(labels, k) || labels[k] !== v) return false;
  return (selector.matchExpressions ?? []).every((r) => holds(r, labels));
}

function holds(r: LabelSelectorRequirement, labels: Labels): boolean {
  const has = Object.hasOwn(labels, r.key);
  const values = r.values ?? [];
  switch (r.operator) {
    case 'In':
      return has && values.includes(labels[r.key] ?? '');
    case 'NotIn':
      // As in Kubernetes: a missing key is "not in" any set.
      return !has || !values.includes(labels[r.key] ?? '');
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
  }
}

/** kubectl's spelling: `{app=web, tier in (a,b), !legacy}`; `{}` for everything. */
export function describeSelector(selector: LabelSelector): string {
  const parts = Object.entries(selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const r of selector.matchExpressions ?? []) {
    const vs = `(${(r.values ?? []).join(',')})`;
    parts.push(
      r.operator === 'In'
        ? `${r.key} in ${vs}`
        : r.operator === 'NotIn'
          ? `${r.key} notin ${vs}`
          : r.operator === 'Exists'
            ? r.key
            : `!${r.key}`,
    );
  }
  return `{${parts.join(', ')}}`;
}
