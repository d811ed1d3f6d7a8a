// Reading a label selector from a manifest with Kubernetes' validation.
import type {
  LabelSelector,
  LabelSelectorRequirement,
  SelectorOperator,
} from '../../state/index.ts';
import {
  describe,
  fieldKey,
  isLabelKey,
  isLabelValue,
  isMap,
  LABEL_KEY_WHAT,
  LABEL_VALUE_WHAT,
} from '../fields.ts';
import type { ReportError } from '../report.ts';

/**
 * Reads a selector at `path`, reporting every problem through `err`. Returns undefined when
 * `raw` is absent (null or missing: the call site decides what "not set" means) or not a map.
 * Unknown fields are errors: a misspelt `matchLabels` would otherwise select everything.
 */
export function parseLabelSelector(
  raw: unknown,
  path: string,
  err: ReportError,
): LabelSelector | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isMap(raw)) {
    err(path, `expected a label selector (a map), found ${describe(raw)}`);
    return undefined;
  }
  for (const k of Object.keys(raw))
    if (k !== 'matchLabels' && k !== 'matchExpressions')
      err(
        `${path}${fieldKey(k)}`,
        `expected only matchLabels and matchExpressions, found the field ${JSON.stringify(k)}`,
      );
  const matchLabels = readMatchLabels(raw.matchLabels, `${path}.matchLabels`, err);
  const matchExpressions = readExpressions(raw.matchExpressions, `${path}.matchExpressions`, err);
  return {
    ...(Object.keys(matchLabels).length > 0 ? { matchLabels } : {}),
    ...(matchExpressions.length > 0 ? { matchExpressions } : {}),
  };
}

function readMatchLabels(raw: unknown, path: string, err: ReportError): Record<string, string> {
  if (raw === undefined || raw === null) return {};
  if (!isMap(raw)) {
    err(path, `expected a map of labels, found ${describe(raw)}`);
    return {};
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    const f = `${path}${fieldKey(k)}`;
    if (!isLabelKey(k)) err(f, `expected ${LABEL_KEY_WHAT}, found ${describe(k)}`);
    else if (typeof v !== 'string') err(f, `expected a string (quote it), found ${describe(v)}`);
    else if (!isLabelValue(v)) err(f, `expected ${LABEL_VALUE_WHAT}, found ${describe(v)}`);
    else out[k] = v;
  }
  return out;
}

const operators: readonly string[] = ['In', 'NotIn', 'Exists', 'DoesNotExist'];

function readExpressions(raw: unknown, path: string, err: ReportError): LabelSelectorRequirement[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    err(path, `expected a list of requirements, found ${describe(raw)}`);
    return [];
  }
  const out: LabelSelectorRequirement[] = [];
  for (const [i, item] of raw.entries()) {
    const p = `${path}[${i}]`;
    if (!isMap(item)) {
      err(p, `expected a map with key, operator and values, found ${describe(item)}`);
      continue;
    }
    let ok = true;
    const bad = (f: string, m: string) => {
      err(f, m);
      ok = false;
    };
    for (const k of Object.keys(item))
      if (k !== 'key' && k !== 'operator' && k !== 'values')
        bad(
          `${p}${fieldKey(k)}`,
          `expected only key, operator and values, found the field ${JSON.stringify(k)}`,
        );
    const { key, operator, values } = item;
    if (typeof key !== 'string' || !isLabelKey(key))
      bad(`${p}.key`, `expected ${LABEL_KEY_WHAT}, found ${describe(key)}`);
    if (typeof operator !== 'string' || !operators.includes(operator))
      bad(
        `${p}.operator`,
        `expected In, NotIn, Exists or DoesNotExist, found ${describe(operator)}`,
      );
    const list = readValues(values, `${p}.values`, bad);
    const setOp = operator === 'In' || operator === 'NotIn';
    if (setOp && list?.length === 0)
      bad(
        `${p}.values`,
        `expected at least one value for ${operator}, found ${Array.isArray(values) ? 'an empty list' : describe(values)}`,
      );
    if (!setOp && operators.includes(String(operator)) && list !== undefined && list.length > 0)
      bad(`${p}.values`, `expected no values for ${operator}, found ${list.length}`);
    if (!ok || typeof key !== 'string' || list === undefined) continue;
    const op = operator as SelectorOperator;
    out.push(setOp ? { key, operator: op, values: list } : { key, operator: op });
  }
  return out;
}

/** The values list; undefined when it is wrong (each problem reported). */
function readValues(raw: unknown, path: string, bad: ReportError): string[] | undefined {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    bad(path, `expected a list of strings, found ${describe(raw)}`);
    return undefined;
  }
  const out: string[] = [];
  let ok = true;
  for (const [j, v] of raw.entries()) {
    if (typeof v === 'string' && isLabelValue(v)) out.push(v);
    else {
      bad(`${path}[${j}]`, `expected ${LABEL_VALUE_WHAT}, found ${describe(v)}`);
      ok = false;
    }
  }
  return ok ? out : undefined;
}
