// make bench (HBONE CPU part), also runnable alone (`node bench/hbone-cpu.ts`):
// what the HBONE proxy pair costs per byte in CPU. It runs on loopback and
// has no datapath, no netns and no second node: a sender, the client proxy
// (plaintext in, HTTP/2 CONNECT over mutual TLS 1.3 out), the server proxy
// (HBONE in, plaintext to a sink), each its own process (bench/hbone-pair.ts).
// It is run twice, with the agent's settings and with Node's stock settings
// (docs/performance.md), rounds interleaved. Each proxy's CPU is its own
// cpuUsage. This isolates the proxy's user-space stack, which the matrix
// (bench/run.ts) measures only together with everything else on the path.
// Writes docs/benchmarks-hbone.md.
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CertificateAuthority, generateRootCA } from '../agent/src/identity/ca/ca.ts';
import { generateKeyAndCsr } from '../agent/src/identity/keys.ts';
import { agentNodeFlags } from './agent-flags.ts';
import { currentLoad, describeMachine } from './machine.ts';
import { median, ratio } from './stats.ts';
import { benchCleanup, benchTempDir, spawnOwned } from './teardown.ts';

const ROUNDS = Number(process.env.WEFT_BENCH_ROUNDS ?? 3);
const BULK_MS = Number(process.env.WEFT_BENCH_BULK_MS ?? 3000);
const pair = new URL('./hbone-pair.ts', import.meta.url).pathname;

const VARIANTS = [
  { id: 'agent', what: "the agent's settings", flags: agentNodeFlags(), stock: false },
  { id: 'stock', what: 'Node stock settings', flags: [], stock: true },
] as const;

interface Sample {
  mbPerS: number;
  /** CPU ms per 100 MB carried. */
  client: number;
  server: number;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Starts a bench/hbone-pair.ts role; resolves once it printed its first line. */
async function start(flags: readonly string[], args: string[], stock: boolean) {
  const child = spawnOwned([process.execPath, ...flags, pair, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, WEFT_BENCH_STOCK: stock ? '1' : '0' },
  });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done) throw new Error(`hbone-pair ${args[0]} exited before it was ready`);
  return { child, lines };
}

async function stop(p: { child: ChildProcess; lines: AsyncIterator<string> }): Promise<number> {
  p.child.kill('SIGTERM');
  const line = await p.lines.next();
  if (line.done) throw new Error('hbone-pair ended without its CPU figure');
  return (JSON.parse(line.value) as { cpuMs: number }).cpuMs;
}

async function measure(v: (typeof VARIANTS)[number], dir: string): Promise<Sample> {
  let bytes = 0;
  let first = 0;
  let last = 0;
  const sink: Server = createServer((s) => {
    s.on('data', (c: Buffer) => {
      if (bytes === 0) first = performance.now();
      bytes += c.length;
    });
    s.on('end', () => {
      last = performance.now();
      s.end();
    });
  });
  sink.listen(0, '127.0.0.1');
  await once(sink, 'listening');
  const sinkPort = (sink.address() as { port: number }).port;
  const [serverPort, clientPort] = [await freePort(), await freePort()];
  const procs: Awaited<ReturnType<typeof start>>[] = [];
  try {
    const server = await start(v.flags, ['server', `${serverPort}`, `${sinkPort}`, dir], v.stock);
    procs.push(server);
    const client = await start(v.flags, ['client', `${clientPort}`, `${serverPort}`, dir], v.stock);
    procs.push(client);
    const send = spawnOwned([process.execPath, pair, 'send', `${clientPort}`, `${BULK_MS}`], {
      stdio: 'inherit',
    });
    const [code] = await once(send, 'exit');
    if (code !== 0) throw new Error(`sender exited with ${code}`);
    while (last === 0) await new Promise((r) => setTimeout(r, 20));
    const mb = bytes / 1e6;
    const clientMs = await stop(client);
    const serverMs = await stop(server);
    procs.length = 0;
    return {
      mbPerS: mb / ((last - first) / 1000),
      client: (clientMs / mb) * 100,
      server: (serverMs / mb) * 100,
    };
  } finally {
    for (const p of procs) p.child.kill('SIGKILL');
    sink.close();
  }
}

async function main(): Promise<void> {
  const machine = describeMachine();
  // The proxy pair and the sender are children the cleanup kills, also on a signal.
  const cleanup = benchCleanup();
  const dir = benchTempDir(cleanup, 'weft-bench-hbone-');
  try {
    const root = await generateRootCA({ trustDomain: 'cluster.local' });
    const ca = await CertificateAuthority.load(root);
    for (const name of ['client', 'server']) {
      const id = `spiffe://cluster.local/ns/bench/sa/${name}`;
      const { keyPem, csrPem } = await generateKeyAndCsr(id);
      const svid = await ca.signSvid(csrPem, id);
      writeFileSync(join(dir, `${name}.key`), keyPem);
      writeFileSync(join(dir, `${name}.crt`), [svid.certPem, ...svid.chainPem].join(''));
      writeFileSync(join(dir, `${name}.root`), root.certPem);
    }
    const samples = new Map<string, Sample[]>(VARIANTS.map((v) => [v.id, []]));
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
      for (const v of order) {
        process.stderr.write(`bench hbone: round ${r + 1}/${ROUNDS}: ${v.what}\n`);
        samples.get(v.id)!.push(await measure(v, dir));
      }
    }
    machine.loadEnd = currentLoad();
    const fig = (id: string) => {
      const s = samples.get(id)!;
      return {
        mbPerS: median(s.map((x) => x.mbPerS)),
        client: median(s.map((x) => x.client)),
        server: median(s.map((x) => x.server)),
      };
    };
    const agent = fig('agent');
    const stock = fig('stock');
    const n = (x: number) => Math.round(x).toLocaleString('en-US');
    const row = (what: string, f: typeof agent, vs: string) =>
      `| ${what} | ${n(f.mbPerS)} | ${n(f.client)} | ${n(f.server)} | ${n(f.client + f.server)} | ${vs} |`;
    const doc = `# Benchmarks: the HBONE proxy pair's CPU

Written by \`make bench\` (\`node bench/hbone-cpu.ts\`) on ${machine.date.slice(0, 10)}.
The machine was ${machine.cores} × ${machine.cpu}, running Node ${machine.node}. The 1-minute load
average was ${machine.loadStart.toFixed(2)} at the start and ${machine.loadEnd.toFixed(2)} at the end.

## What is measured

The HBONE proxy pair runs on loopback, built from the agent's own pieces: TLS options, HTTP/2
settings, the join and its stream tuning. There is no datapath, no network namespace and no
second node. The full path is in [benchmarks.md](benchmarks.md).

The layout is a sender, then the client proxy, then the server proxy, then a sink. The sender,
each proxy and the sink run as separate processes. One connection writes 256 KiB chunks for
${BULK_MS} ms. Each proxy's CPU is its own user + system time. Everything is per 100 MB
carried, and each figure is the median of ${ROUNDS} rounds, with the variants interleaved.

The two variants:
- **the agent's settings**: the heap flags \`bin/weft\` gives the agent
  (\`${VARIANTS[0].flags.join(' ')}\`) and the proxy's stream high-water mark;
- **Node stock settings**: no flags, and Node's 16 KiB default.

Bulk chunks of HTTP/2 streams are batched in both (\`agent/src/proxy/pipe.ts\`).
See [performance.md](performance.md).

| settings | MB/s | client proxy CPU ms / 100 MB | server proxy CPU ms / 100 MB | both | CPU vs stock |
| --- | ---: | ---: | ---: | ---: | ---: |
${row("the agent's settings", agent, `${Math.round(100 * ratio(agent.client + agent.server, stock.client + stock.server))}%`)}
${row('Node stock settings', stock, '')}
`;
    process.stdout.write(doc);
    writeFileSync(new URL('../docs/benchmarks-hbone.md', import.meta.url), doc);
  } finally {
    for (const e of cleanup.dispose()) process.stderr.write(`${e.message}\n`);
  }
}

await main();
