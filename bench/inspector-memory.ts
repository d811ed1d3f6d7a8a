// A running agent's heap after a full collection, read through its inspector
// (SIGUSR1 opens it on 127.0.0.1:9229 of the agent's netns, as in
// inspector-profile.ts): what RSS alone cannot tell apart, memory the agent
// holds from garbage not yet collected. Opening the inspector costs the agent
// memory of its own, so the bench reads RSS first.
import { mkdirSync } from 'node:fs';
import { spawnInPod } from '../agent/src/sandbox/exec.ts';
import { inspectorClient } from './inspector-profile.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs in the netns: collects garbage twice, prints process.memoryUsage() of the agent. */
const driver = `
${inspectorClient}
await send('HeapProfiler.collectGarbage');
await send('HeapProfiler.collectGarbage');
const r = await send('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true });
process.stdout.write(r.result.value + '\\n', () => process.exit(0));
`;

export interface AgentMemory {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

/** process.memoryUsage() of the agent pid after two full collections, bytes. */
export async function agentMemory(
  pid: number,
  at: { netnsPath: string; cgroupDir: string },
): Promise<AgentMemory> {
  process.kill(pid, 'SIGUSR1');
  await sleep(200);
  mkdirSync(at.cgroupDir, { recursive: true });
  const child = spawnInPod(at, driver);
  let out = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  await new Promise((r) => child.once('exit', r));
  const line = out.split('\n').find((l) => l.startsWith('{'));
  const m = line ? (JSON.parse(line) as AgentMemory & { error?: string }) : undefined;
  if (!m || m.error)
    throw new Error(`memory of pid ${pid}: ${m?.error ?? (out.trim() || 'no answer')}`);
  return m;
}
