// The one line `make test` prints about what it skipped and why: privileged
// suites skip with "(skipped: <reason>)" in their name (test/support/privileged.ts).

interface Assertion {
  status: string;
  ancestorTitles: string[];
}
export interface SkipReport {
  testResults: { assertionResults: Assertion[] }[];
}

const SKIPPED = new Set(['pending', 'skipped', 'todo']);

/** e.g. "skipped 212 tests: 212 not root (sudo make test runs them)"; null when none were. */
export function skipSummary(report: SkipReport): string | null {
  const reasons = new Map<string, number>();
  let total = 0;
  for (const file of report.testResults) {
    for (const a of file.assertionResults) {
      if (!SKIPPED.has(a.status)) continue;
      total++;
      const why = a.ancestorTitles
        .map((t) => /\(skipped: (.+)\)$/.exec(t)?.[1])
        .find((r) => r !== undefined);
      const reason = why ?? 'marked skip or todo in the test';
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    }
  }
  if (total === 0) return null;
  const parts = [...reasons].map(([r, n]) =>
    r === 'not root' ? `${n} not root (sudo make test runs them)` : `${n} ${r}`,
  );
  return `skipped ${total} test${total === 1 ? '' : 's'}: ${parts.join('; ')}`;
}
