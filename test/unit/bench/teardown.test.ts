// A bench run stopped by a signal leaves nothing behind: no nginx, no child,
// no forked destination, no temp dir (bench/teardown.ts), and its children die
// even when the run itself is SIGKILLed. A real run in small (teardown-run.ts).
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';

interface Started {
  dir: string;
  nginx: number[];
  app: number;
  destination: number[];
}

const pidsOf = (s: Started) => [...s.nginx, s.app, ...s.destination];

/** Exited (a zombie not yet reaped by its new parent counts as exited). */
function gone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

let run: ChildProcess | undefined;
let started: Started | undefined;

async function start(): Promise<{ run: ChildProcess; started: Started }> {
  // A port that is free now, for nginx.
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const port = (probe.address() as AddressInfo).port;
  probe.close();
  run = spawn(
    process.execPath,
    [join(import.meta.dirname, 'teardown-run.ts'), '98', String(port)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise<never>((_, reject) =>
    run!.once('exit', (code, sig) => reject(new Error(`the run exited at start (${code ?? sig})`))),
  );
  const line = createInterface({ input: run.stdout! })[Symbol.asyncIterator]().next();
  const first = await Promise.race([line, exited]);
  started = JSON.parse(first.value as string) as Started;
  return { run, started };
}

afterEach(() => {
  // Whatever a failed case left: this test's own processes only.
  for (const pid of [...(run?.pid ? [run.pid] : []), ...(started ? pidsOf(started) : [])])
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  if (started) rmSync(started.dir, { recursive: true, force: true });
  run = undefined;
  started = undefined;
});

describe('a bench run stopped by a signal', () => {
  it.each(['SIGTERM', 'SIGINT', 'SIGHUP'] as const)(
    '%s: its children are gone and its temp dir removed',
    async (sig) => {
      const { run, started } = await start();
      expect(started.nginx.length).toBeGreaterThanOrEqual(2); // master and worker
      expect(started.destination).toHaveLength(1);
      for (const pid of pidsOf(started)) expect(gone(pid)).toBe(false);
      expect(existsSync(started.dir)).toBe(true);
      const exit = new Promise<NodeJS.Signals | null>((r) => run.once('exit', (_c, s) => r(s)));
      run.kill(sig);
      // The cleanup runs, then the signal is raised again: the run dies of it.
      expect(await exit).toBe(sig);
      await until('children gone', () => pidsOf(started).every(gone), 3000);
      expect(existsSync(started.dir)).toBe(false);
    },
  );

  it('SIGKILL: its children die with it (parent-death signal, IPC disconnect)', async () => {
    const { run, started } = await start();
    run.kill('SIGKILL');
    await until('children gone', () => pidsOf(started).every(gone), 5000);
  });
});
