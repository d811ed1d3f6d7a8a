// make fuzz: runs every fuzz target (fuzz/*.fuzz.ts) with WEFT_FUZZ_RUNS inputs
// (default 1,000,000), one after the other, and fails if any target fails.
// A target is a script that takes the run count as its first argument, feeds that many
// generated inputs to one parser or front, exits non-zero on a crash or unbounded growth,
// and writes any input that found a defect to fuzz/corpus/<target>/ so the regression
// tests in make test replay it.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const runs = process.env.WEFT_FUZZ_RUNS ?? '1000000';
const only = process.argv[2];
const targets = readdirSync('fuzz')
  .filter((f) => f.endsWith('.fuzz.ts'))
  .filter((f) => !only || f.startsWith(only))
  .sort();
if (targets.length === 0) {
  console.error('fuzz: no targets in fuzz/');
  process.exit(1);
}
let failed = 0;
for (const t of targets) {
  const started = Date.now();
  const r = spawnSync(process.execPath, [`fuzz/${t}`, runs], { stdio: 'inherit' });
  const s = ((Date.now() - started) / 1000).toFixed(1);
  if (r.status !== 0) failed++;
  console.log(`fuzz ${t}: ${r.status === 0 ? 'ok' : 'FAILED'} (${runs} inputs, ${s} s)`);
}
process.exit(failed ? 1 : 0);
