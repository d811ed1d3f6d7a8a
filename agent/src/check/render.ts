// The verdicts as a person reads them (sections, one line per check, details
// under what is not right) or as JSON, and the exit code they mean.

import type { Ran } from './checks.ts';
import type { Category } from './types.ts';

const HEADINGS: Record<Category, string> = {
  kernel: 'kernel',
  filesystems: 'filesystems',
  permissions: 'permissions',
  probes: 'bpf load probes',
  agent: 'running agent',
};

const MARKS = { ok: '√', warn: '‼', fail: '×' } as const;
const COLOURS = { ok: 32, warn: 33, fail: 31 } as const;

const indent = (text: string) =>
  text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');

export function renderText(ran: readonly Ran[], colour: boolean): string {
  const paint = (code: number, s: string) => (colour ? `\x1b[${code}m${s}\x1b[0m` : s);
  const out: string[] = [];
  let section: Category | null = null;
  for (const { check, result } of ran) {
    if (check.category !== section) {
      if (section !== null) out.push('');
      section = check.category;
      const h = HEADINGS[section];
      out.push(paint(1, h), '-'.repeat(h.length));
    }
    const v = result.verdict;
    out.push(`${paint(COLOURS[v], MARKS[v])} ${check.title}`);
    if (v !== 'ok') {
      out.push(indent(result.detail));
      if (result.hint) out.push(paint(2, indent(`hint: ${result.hint}`)));
    }
  }
  const failed = ran.filter((r) => r.result.verdict === 'fail').length;
  const warned = ran.filter((r) => r.result.verdict === 'warn').length;
  const warnings = warned > 0 ? `, with ${warned} warning${warned > 1 ? 's' : ''}` : '';
  out.push(
    '',
    failed === 0
      ? `Status check results are ${paint(COLOURS.ok, MARKS.ok)}${warnings}`
      : `Status check results are ${paint(COLOURS.fail, MARKS.fail)}: ${failed} of ${ran.length} checks failed${warnings}`,
  );
  return `${out.join('\n')}\n`;
}

export interface JsonReport {
  ok: boolean;
  checks: {
    id: string;
    category: Category;
    title: string;
    verdict: Ran['result']['verdict'];
    detail: string;
    hint: string | null;
    mapIds?: number[];
  }[];
}

export function toJson(ran: readonly Ran[]): JsonReport {
  return {
    ok: exitCode(ran) === 0,
    checks: ran.map(({ check, result }) => ({
      id: check.id,
      category: check.category,
      title: check.title,
      verdict: result.verdict,
      detail: result.detail,
      hint: result.hint ?? null,
      ...(result.mapIds ? { mapIds: result.mapIds } : {}),
    })),
  };
}

/** 0 when nothing failed (warnings allowed), 1 otherwise. */
export function exitCode(ran: readonly Ran[]): 0 | 1 {
  return ran.some((r) => r.result.verdict === 'fail') ? 1 : 0;
}
