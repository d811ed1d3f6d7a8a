// A CPU profile of a running Node process (an agent) over a window of the
// bench's choosing: SIGUSR1 opens the process's inspector on 127.0.0.1:9229 of
// its netns, and a small program in that netns drives the V8 profiler over
// the inspector's WebSocket. (`--cpu-prof` from the start cannot be used: its
// SIGPROF ticks interrupt the kernel's BPF verifier, whose load then fails
// with EAGAIN.)
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { spawnInPod } from '../agent/src/sandbox/exec.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The start of a program that runs in the agent's netns: connects to the inspector SIGUSR1
 * opened and defines send(method, params), which resolves with the method's result.
 */
export const inspectorClient = `
let list;
for (let i = 0; i < 100 && !list; i++) {
  try { list = await (await fetch('http://127.0.0.1:9229/json/list')).json(); } catch { await new Promise((r) => setTimeout(r, 100)); }
}
if (!list) { console.log(JSON.stringify({ error: 'no inspector on 127.0.0.1:9229' })); process.exit(0); }
const ws = new WebSocket(list[0].webSocketDebuggerUrl);
let id = 0; const waiting = new Map();
const send = (method, params = {}) => new Promise((r) => { waiting.set(++id, r); ws.send(JSON.stringify({ id, method, params })); });
ws.onmessage = (e) => { const m = JSON.parse(e.data); if (m.id && waiting.has(m.id)) { waiting.get(m.id)(m.result); waiting.delete(m.id); } };
await new Promise((r) => { ws.onopen = r; });
`;

/** Runs in the netns: starts the profiler, prints "started", stops once stopFile exists and prints the profile. */
const driver = (stopFile: string) => `
import { existsSync } from 'node:fs';
${inspectorClient}
await send('Profiler.enable');
await send('Profiler.setSamplingInterval', { interval: 200 });
await send('Profiler.start');
console.log('started');
const poll = setInterval(async () => {
  if (!existsSync(${JSON.stringify(stopFile)})) return;
  clearInterval(poll);
  const { profile } = await send('Profiler.stop');
  process.stdout.write(JSON.stringify({ profile }) + '\\n', () => process.exit(0));
}, 50);
`;

export interface Profiling {
  /** Stops the profiler and returns the profile (V8's .cpuprofile JSON). */
  stop(): Promise<unknown>;
}

/** Opens pid's inspector and starts its profiler; resolves once it runs. */
export async function startProfile(
  pid: number,
  netnsPath: string,
  cgroupDir: string,
  stopFile: string,
): Promise<Profiling> {
  process.kill(pid, 'SIGUSR1');
  await sleep(200);
  mkdirSync(cgroupDir, { recursive: true });
  const child: ChildProcess = spawnInPod({ netnsPath, cgroupDir }, driver(stopFile));
  let out = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  for (let i = 0; i < 200 && !out.includes('started') && !out.includes('error'); i++)
    await sleep(50);
  if (!out.includes('started'))
    throw new Error(`profiling pid ${pid}: ${out.trim() || 'no answer'}`);
  return {
    stop: async () => {
      out = '';
      const exited = new Promise((r) => child.once('exit', r));
      writeFileSync(stopFile, '');
      await exited;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (!line) throw new Error(`profiling pid ${pid}: no profile`);
      return (JSON.parse(line) as { profile: unknown }).profile;
    },
  };
}
