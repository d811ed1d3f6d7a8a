// make test: runs vitest and ends with one line, `N passed, N failed, N skipped`,
// after one saying what was skipped and why when anything was.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { type SkipReport, skipSummary } from './skip-summary.ts';

// WEFT_TEST_RESULTS moves the report where build/ is read-only (the kernel matrix's guests).
const out = process.env.WEFT_TEST_RESULTS || 'build/test-results.json';
mkdirSync(dirname(out), { recursive: true });
// vitest through this Node, not npx: the kernel matrix's guests have no npm.
const args = [
  'node_modules/vitest/vitest.mjs',
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${out}`,
  ...process.argv.slice(2),
];
const r = spawnSync(process.execPath, args, { stdio: 'inherit' });

interface Report extends SkipReport {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  numFailedTestSuites: number;
}
let report: Report;
try {
  report = JSON.parse(readFileSync(out, 'utf8')) as Report;
} catch {
  console.log('0 passed, 1 failed, 0 skipped');
  process.exit(r.status || 1);
}
// A file that failed to load counts as a failure even though none of its tests ran.
const failed =
  report.numFailedTests + (report.numFailedTests === 0 ? report.numFailedTestSuites : 0);
const skipped = skipSummary(report);
if (skipped) console.log(skipped);
console.log(
  `${report.numPassedTests} passed, ${failed} failed, ${report.numPendingTests + report.numTodoTests} skipped`,
);
process.exit(r.status ?? 1);
