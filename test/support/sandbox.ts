// Sandbox fixtures for integration tests: a sandbox named after the test file
// and the process, swept when an earlier run died; pod programs that measure
// what crossed the mesh.
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchStatus } from '../../agent/src/admin/client.ts';
import { type PodPlacement, spawnInPod } from '../../agent/src/sandbox/exec.ts';
import { NETNS_DIR } from '../../agent/src/sandbox/host.ts';
import { STATE_ROOT } from '../../agent/src/sandbox/layout/topology.ts';
import { Sandbox, type SandboxOptions, teardown } from '../../agent/src/sandbox/sandbox.ts';
import type { AgentStatus } from '../../agent/src/telemetry/status.ts';

function sweep(letter: string): void {
  const re = new RegExp(`^(?:weft-)?(${letter}(\\d+))(?:-|$)`);
  const names = new Set<string>();
  for (const dir of [STATE_ROOT, NETNS_DIR]) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) {
      const m = re.exec(f);
      if (m && !existsSync(`/proc/${m[2]}`)) names.add(m[1]!);
    }
  }
  for (const n of names) teardown(n);
}

export interface TestCluster {
  sandbox: Sandbox;
  manifests: string;
  write(file: string, yaml: string): void;
  pod(key: string): PodPlacement & { ip: string };
  status(node: string): Promise<AgentStatus>;
  serve(key: string, script: string): Promise<ChildProcess>;
  /** Waits (up to 10 s) until the nodes hold at least `count` certificates, all issued. */
  certificates(count: number): Promise<void>;
  down(): Promise<string[]>;
}

/** A sandbox for one test file: letter + pid names it. */
export async function testCluster(
  letter: string,
  files: Record<string, string>,
  nodes = 2,
  extra: Partial<SandboxOptions> = {},
): Promise<TestCluster> {
  sweep(letter);
  const manifests = mkdtempSync(join(tmpdir(), 'weft-manifests-'));
  for (const [f, y] of Object.entries(files)) writeFileSync(join(manifests, f), y);
  const name = `${letter}${process.pid}`;
  let sandbox: Sandbox;
  try {
    sandbox = await Sandbox.up({ ...extra, name, nodes, manifests });
  } catch (e) {
    rmSync(manifests, { recursive: true, force: true });
    throw e;
  }
  const servers: ChildProcess[] = [];
  const c: TestCluster = {
    sandbox,
    manifests,
    write(file, yaml) {
      writeFileSync(join(manifests, file), yaml);
    },
    pod(key) {
      const p = sandbox.state.pods.find((x) => x.key === key);
      if (!p) throw new Error(`no pod ${key}: ${sandbox.state.pods.map((x) => x.key).join(', ')}`);
      return { netnsPath: p.netns, cgroupDir: p.cgroup, ip: p.ip };
    },
    status(node) {
      return fetchStatus(sandbox.state.nodes.find((n) => n.name === node)!.adminSocket);
    },
    async serve(key, script) {
      const child = spawnInPod(c.pod(key), script);
      servers.push(child);
      // The script prints "listening" once its socket is bound.
      await new Promise<void>((resolve, reject) => {
        let out = '';
        child.stdout?.on('data', (d) => {
          out += d;
          if (out.includes('listening')) resolve();
        });
        child.on('exit', (code) => reject(new Error(`server in ${key} exited (${code}): ${out}`)));
      });
      return child;
    },
    async certificates(count) {
      for (let i = 0; i < 200; i++) {
        const ids = (await Promise.all(sandbox.state.nodes.map((n) => c.status(n.name)))).flatMap(
          (x) => x.identities,
        );
        if (ids.length >= count && ids.every((x) => x.serial)) return;
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async down() {
      for (const s of servers) s.kill('SIGKILL');
      const errors = await sandbox.down();
      rmSync(manifests, { recursive: true, force: true });
      return errors.filter((e) => !e.startsWith('state:'));
    },
  };
  return c;
}

/**
 * A server that reads until the client half-closes, then answers with what it
 * received (byte count, sha256) and who it saw (peer and local address).
 */
export const sinkServer = (port: number) => `
import net from 'node:net';
import { createHash } from 'node:crypto';
net.createServer({ allowHalfOpen: true }, (s) => {
  const h = createHash('sha256'); let n = 0;
  s.on('data', (d) => { h.update(d); n += d.length; });
  s.on('end', () => s.end(JSON.stringify({ bytes: n, sha256: h.digest('hex'), peer: s.remoteAddress, local: s.localAddress + ':' + s.localPort })));
  s.on('error', () => {});
}).listen(${port}, '0.0.0.0', () => console.log('listening'));
`;

export interface TransferResult {
  peer?: string;
  sent?: number;
  sha256?: string;
  reply?: { bytes: number; sha256: string; peer: string; local: string };
  error?: string;
  ms?: number;
}

/** Sends `bytes` of patterned data, half-closes, and reports the server's answer. */
export const transferClient = (host: string, port: number, bytes: number) => `
import net from 'node:net';
import { createHash } from 'node:crypto';
const t0 = performance.now();
const data = Buffer.alloc(${bytes});
for (let i = 0; i < data.length; i++) data[i] = (i * 31 + 7) & 0xff;
const s = net.connect({ host: ${JSON.stringify(host)}, port: ${port}, allowHalfOpen: true });
s.setTimeout(15000, () => { console.log(JSON.stringify({ error: 'TIMEOUT' })); process.exit(0); });
let reply = '';
let peer;
s.on('connect', () => { peer = s.remoteAddress + ':' + s.remotePort; s.end(data); });
s.on('data', (d) => { reply += d; });
s.on('end', () => {
  console.log(JSON.stringify({ peer, sent: data.length,
    sha256: createHash('sha256').update(data).digest('hex'), reply: JSON.parse(reply), ms: performance.now() - t0 }));
});
s.on('error', (e) => console.log(JSON.stringify({ error: e.code, ms: performance.now() - t0 })));
`;
