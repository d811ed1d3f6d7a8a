// Fuzz target: the L7 front (proxy/http.ts) with generated HTTP/1.1 input: request
// lines, header names and values, Content-Length and chunked framing, CRLF variants,
// huge sizes, pipelining, byte mutations. Each input is one client connection fed to
// the front in process (fuzz/lib/http-front.ts). A defect is an uncaught exception, a
// connection the front never finishes, a head sent to the app with a bare CR or LF, or
// heap growth beyond HEAP_GROWTH_MB; inputs that found one go to
// fuzz/corpus/http-front/ for make test to replay.
// Usage: node fuzz/http-front.fuzz.ts [runs] [seed]
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { feed } from './lib/http-front.ts';
import { generate, Rng } from './lib/http-inputs.ts';

const runs = Number(process.argv[2] ?? 1_000_000);
const seed = Number(process.argv[3] ?? Date.now() % 2 ** 31);
const IN_FLIGHT = 32;
const HEAP_GROWTH_MB = 64;
const CORPUS = new URL('./corpus/http-front/', import.meta.url).pathname;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapMb = () => {
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

const defects: string[] = [];
function keep(input: Buffer, why: string): void {
  mkdirSync(CORPUS, { recursive: true });
  const name = createHash('sha256').update(input).digest('hex').slice(0, 16);
  writeFileSync(`${CORPUS}${name}.bin`, input);
  defects.push(`${name}: ${why}`);
  console.error(`fuzz http-front: defect (kept as ${name}.bin): ${why}`);
}

// An exception no handler caught: which input caused it is not known yet, so every input
// in flight is a suspect, tried again alone once the run is over.
const inFlight = new Set<Buffer>();
const suspects = new Set<Buffer>();
let uncaught = 0;
process.on('uncaughtException', (e) => {
  uncaught++;
  if (uncaught <= 5) console.error(`fuzz http-front: uncaught: ${e.stack ?? e}`);
  for (const i of inFlight) suspects.add(i);
});

const rng = new Rng(seed);
let done = 0;
let forwarded = 0;
let answered = 0;
const started = performance.now();
const baseline = heapMb();
let peak = baseline;
console.log(`fuzz http-front: ${runs} inputs, seed ${seed}, heap ${baseline.toFixed(1)} MiB`);

async function one(): Promise<void> {
  const input = generate(rng);
  inFlight.add(input);
  const o = await feed(input);
  inFlight.delete(input);
  if (o.forwarded) forwarded++;
  if (o.answered) answered++;
  if (o.defect) keep(input, o.defect);
}

let next = 0;
async function lane(): Promise<void> {
  while (next < runs) {
    next++;
    await one();
    done++;
    if (done % 100_000 === 0) {
      const s = (performance.now() - started) / 1000;
      const heap = heapMb();
      peak = Math.max(peak, heap);
      console.log(
        `fuzz http-front: ${done} inputs in ${s.toFixed(1)} s (${Math.round(done / s)}/s), ${forwarded} forwarded to the app, ${answered} answered, heap ${heap.toFixed(1)} MiB, ${defects.length} defects`,
      );
    }
  }
}
await Promise.all(Array.from({ length: IN_FLIGHT }, lane));

for (const input of suspects) {
  const before = uncaught;
  const o = await feed(input);
  await new Promise((r) => setImmediate(r));
  if (uncaught > before) keep(input, 'uncaught exception');
  else if (o.defect) keep(input, o.defect);
}
if (uncaught > 0 && defects.length === 0)
  defects.push(`${uncaught} uncaught exceptions no single input repeats`);

const seconds = (performance.now() - started) / 1000;
const end = heapMb();
peak = Math.max(peak, end);
if (end - baseline > HEAP_GROWTH_MB)
  defects.push(`heap grew from ${baseline.toFixed(1)} to ${end.toFixed(1)} MiB`);
console.log(
  `fuzz http-front: ${done} inputs in ${seconds.toFixed(1)} s (${Math.round(done / seconds)}/s); heap ${baseline.toFixed(1)} → ${end.toFixed(1)} MiB (peak ${peak.toFixed(1)}); ${forwarded} forwarded, ${answered} answered; ${defects.length} defects`,
);
for (const d of defects) console.log(`  ${d}`);
process.exit(defects.length ? 1 : 0);
