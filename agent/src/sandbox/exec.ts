// Running a program as a pod would: joined to the pod's cgroup (so the cgroup
// hooks see it) and inside the pod's netns (nsenter, not `ip netns exec`,
// which remounts /sys).
import { type ChildProcess, spawn } from 'node:child_process';

export interface PodPlacement {
  cgroupDir?: string;
  netnsPath: string;
}

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function podCommand(pod: PodPlacement): string {
  const joinCgroup = pod.cgroupDir ? `echo $$ > '${pod.cgroupDir}/cgroup.procs' && ` : '';
  return `${joinCgroup}exec nsenter --net='${pod.netnsPath}' '${process.execPath}' --input-type=module -e "$WEFT_SCRIPT"`;
}

/** Starts a Node ES module script in the pod and leaves it running (a server, say). */
export function spawnInPod(pod: PodPlacement, script: string): ChildProcess {
  return spawn('sh', ['-c', podCommand(pod)], {
    env: { ...process.env, WEFT_SCRIPT: script },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs a Node ES module script in the pod; it is killed after timeoutMs. */
export function runInPod(
  pod: PodPlacement,
  script: string,
  timeoutMs = 20_000,
): Promise<ExecResult> {
  const cmd = podCommand(pod);
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', cmd], {
      env: { ...process.env, WEFT_SCRIPT: script },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The JSON a pod script printed as its last line. */
export function lastJson<T>(r: ExecResult): T {
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`pod script printed no JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
  }
}

/** A client that connects, reads the first chunk and prints what it saw as JSON. */
export function connectScript(host: string, port: number): string {
  return `
import net from 'node:net';
const s = net.connect({ host: ${JSON.stringify(host)}, port: ${port} });
s.setTimeout(5000, () => { console.log(JSON.stringify({ error: 'TIMEOUT' })); process.exit(0); });
s.once('connect', () => {
  const peer = { remote: s.remoteAddress, remotePort: s.remotePort, localPort: s.localPort };
  s.once('data', (d) => { console.log(JSON.stringify({ ...peer, data: d.toString() })); s.destroy(); });
});
s.once('error', (e) => console.log(JSON.stringify({ error: e.code })));
`;
}

export interface ConnectResult {
  remote?: string;
  remotePort?: number;
  localPort?: number;
  data?: string;
  error?: string;
}
