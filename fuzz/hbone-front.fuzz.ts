// Fuzz target: the HBONE server's CONNECT front (proxy/hbone/front.ts), the
// code that reads :method, :authority and Forwarded from a verified peer.
// Inputs are built from the pieces these headers are made of (addresses of
// every form, ports at and past their limits, quotes, brackets, separators,
// parameters) mixed with random bytes and lengths. Checks: no throw, every
// admission is of this pod's address from a pod of the peer's identity, and
// memory stays flat. A failing input is written to fuzz/corpus/hbone-front/.
//   node fuzz/hbone-front.fuzz.ts [runs] [seed]
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { checkConnect } from '../agent/src/proxy/hbone/front.ts';
import {
  CLIENT,
  CONTEXT,
  type FrontInput,
  OTHER,
  POD_IP,
  V6,
  violation,
} from './hbone-front.check.ts';

const runs = Number(process.argv[2] ?? 1_000_000);
let seed = Number(process.argv[3] ?? Date.now()) >>> 0 || 1;

// xorshift32: fast, and a run is replayed from its seed.
function rnd(n: number): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
}
const pick = <T>(a: readonly T[]): T => a[rnd(a.length)]!;

const IPS = [
  POD_IP,
  CLIENT.podIP!,
  OTHER.podIP!,
  V6.podIP!,
  '10.0.2.70',
  '10.0.2.7.1',
  '010.0.2.7',
  '::ffff:10.0.1.5',
  '::ffff:10.0.2.7',
  'fd00:0::15',
  'FD00::15',
  '::',
  '0.0.0.0',
  '255.255.255.255',
  '1.2.3',
  '',
  '[',
  ']',
  '::1',
  'fe80::1%eth0',
  '10.0.1.5\u0000',
  ' 10.0.1.5',
  'unknown',
  '_hidden',
];
const PORTS = ['8080', '0', '1', '65535', '65536', '99999', '080', '', '-1', '8080 ', '1e3', '１'];
const JUNK = [
  '"',
  "'",
  '[',
  ']',
  ',',
  ';',
  '=',
  ' ',
  '\t',
  '\\',
  '%',
  ':',
  'for',
  'by',
  'host',
  'proto',
  '\u00ff',
  '\ud800',
  '\r\n',
];
const METHODS = ['GET', 'connect', 'POST', '', 'CONNECT '];
const SOURCES = [CLIENT.podIP!, OTHER.podIP!, V6.podIP!, `[${V6.podIP}]`, `::ffff:${CLIENT.podIP}`];
const IDS = [
  'spiffe://cluster.local/ns/shop/sa/client',
  'spiffe://cluster.local/ns/shop/sa/client',
  'spiffe://cluster.local/ns/shop/sa/other',
  'spiffe://cluster.local.evil/ns/shop/sa/client',
  'spiffe://cluster.local/ns/shop/sa/client/x',
  'spiffe://evil/ns/shop/sa/client',
  undefined,
];
const ADDRS = [
  CLIENT.podIP,
  OTHER.podIP,
  V6.podIP,
  `::ffff:${CLIENT.podIP}`,
  '10.9.9.9',
  undefined,
  '',
];

function junk(max: number): string {
  let s = '';
  const n = rnd(max);
  for (let i = 0; i < n; i++) s += rnd(4) ? pick(JUNK) : String.fromCharCode(rnd(0x250));
  return s;
}

function ip(): string {
  const a = pick(IPS);
  switch (rnd(6)) {
    case 0:
      return `[${a}]`;
    case 1:
      return junk(3) + a + junk(3);
    default:
      return a;
  }
}

function authority(): unknown {
  switch (rnd(12)) {
    case 0:
      return undefined;
    case 1:
      return [`${ip()}:${pick(PORTS)}`, `${ip()}:${pick(PORTS)}`];
    case 2:
      return junk(40);
    case 3:
      return `${ip()}:${pick(PORTS)}`.repeat(1 + rnd(200));
    case 4:
    case 5:
    case 6:
      return `${ip()}${rnd(8) ? ':' : ''}${pick(PORTS)}`;
    default:
      return `${POD_IP}:${1 + rnd(65535)}`;
  }
}

function element(): string {
  const name = rnd(6) ? 'for' : pick(['For', 'FOR', 'by', 'host', 'proto', '', junk(5)]);
  if (rnd(4) === 0) return `for=${pick(SOURCES)}`;
  const q = rnd(3) === 0 ? '' : '"';
  const v = rnd(2) ? pick(SOURCES) : rnd(10) ? ip() : junk(20);
  const sp = rnd(5) ? '' : pick([' ', '\t', '  ']);
  return `${sp}${name}${rnd(15) ? '=' : ''}${sp}${q}${v}${rnd(20) ? q : ''}`;
}

function forwarded(): unknown {
  switch (rnd(10)) {
    case 0:
      return undefined;
    case 1:
      return [element(), element()];
    case 2:
      return junk(60);
    case 3: {
      const parts = [];
      for (let i = 1 + rnd(6); i > 0; i--) parts.push(element());
      return parts.join(rnd(2) ? ';' : ',');
    }
    case 4:
      return element() + ' '.repeat(rnd(400));
    default:
      return element();
  }
}

function input(): FrontInput {
  const headers: Record<string, unknown> = { ':method': rnd(8) ? 'CONNECT' : pick(METHODS) };
  const a = authority();
  if (a !== undefined) headers[':authority'] = a;
  const f = forwarded();
  if (f !== undefined) headers.forwarded = f;
  if (rnd(50) === 0) headers[':method'] = [pick(METHODS)];
  const id = rnd(2) ? IDS[0] : pick(IDS);
  return { headers, peer: { id, address: pick(ADDRS) } };
}

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heap = () => {
  gc();
  return process.memoryUsage().heapUsed;
};

const firstSeed = seed;
const base = heap();
// What the verdicts were: a generator that never reaches admission tests little.
const outcomes = new Map<string, number>();
for (let i = 0; i < runs; i++) {
  const x = input();
  const why = violation(x);
  if (why !== undefined) {
    const text = `${JSON.stringify(x, null, 1)}\n`;
    const dir = 'fuzz/corpus/hbone-front';
    mkdirSync(dir, { recursive: true });
    const file = `${dir}/${createHash('sha256').update(text).digest('hex').slice(0, 16)}.json`;
    writeFileSync(file, text);
    console.error(`hbone-front: input ${i} (seed ${firstSeed}): ${why}; kept as ${file}`);
    process.exit(1);
  }
  if (i % 64 === 0) {
    const v = checkConnect(x.headers, x.peer, CONTEXT);
    const k = v.ok ? 'admitted' : `${v.status}${v.spoofed ? ' spoofed' : ''}`;
    outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
  }
  if (i % 100_000 === 99_999) {
    const grown = heap() - base;
    // The front keeps nothing between inputs: the heap must not grow with them.
    if (grown > 32 * 1024 * 1024) {
      console.error(
        `hbone-front: heap grew by ${(grown / 1048576).toFixed(1)} MiB after ${i + 1} inputs`,
      );
      process.exit(1);
    }
  }
}
const mix = [...outcomes].map(([k, n]) => `${k} ${n}`).join(', ');
console.log(`hbone-front: ${runs} inputs (seed ${firstSeed}), no defect; 1 in 64: ${mix}`);
