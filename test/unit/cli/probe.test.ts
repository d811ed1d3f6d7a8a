// The agent pod's exec readiness probe as the kubelet runs it, in a child process: the real
// `bin/weft probe ready` and its C twin `build/bin/weft-probe ready` (the one the chart
// execs), each through the same cases. Two agents of one revision share the node's health port
// during an update (kubectl rollout restart); the port is answered by both, so the old one
// could say ready for the new pod. Each serves its own health socket too, and the probe of
// a pod asks only its own agent there. Then what the probe says when there is no agent,
// a dead one, something else at the path, or no answer.
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { listenUnix } from '../../../agent/src/admin/index.ts';
import { HealthServer, type HealthSource } from '../../../agent/src/telemetry/index.ts';

const bin = new URL('../../../bin/weft', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'weft-probe-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** bin/weft, asynchronously: the health servers answer from this process meanwhile. */
function weft(args: string[], opts: { uid?: number } = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      bin,
      args,
      // The sources, whatever the age of the bundle (launcher.test.ts covers the bundle).
      { encoding: 'utf8', env: { ...process.env, WEFT_AGENT_SOURCES: '1' }, ...opts },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
    );
  });
}
const probeBin = new URL('../../../build/bin/weft-probe', import.meta.url).pathname;

/** build/bin/weft-probe (make build), as the chart's exec probe runs it. */
function cProbe(args: string[], opts: { uid?: number } = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(probeBin, args, { encoding: 'utf8', ...opts }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
    );
  });
}

/** Each probe: how to run it with `ready|live` and options, and how its lines start. */
const PROBES = [
  {
    name: 'weft probe',
    p: 'weft probe',
    run: (a: string[], o?: { uid?: number }) => weft(['probe', ...a], o),
  },
  { name: 'weft-probe (C)', p: 'weft-probe', run: cProbe },
];

/** A port the kernel has just handed out and taken back, for two servers to share. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

function portStatus(port: number, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/healthz/ready', headers, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
}

/** An agent's health side as `weft agent` starts it: the node's port, and its own socket. */
const agent = (src: HealthSource, port: number, socket: string) =>
  HealthServer.start(src, {
    host: '127.0.0.1',
    healthPort: port,
    socket: { path: socket, listen: listenUnix },
  });

// Each case starts a Node process (about 0.3 s, more on a loaded 2-core machine).
describe.each(PROBES)(
  '$name ready during an update that keeps the revision',
  { timeout: 60_000 },
  ({ p, run }) => {
    const probe = (socket: string, ...more: string[]) =>
      run(['ready', '--socket', socket, ...more]);
    // Each probe's files apart from the other's.
    const dir = mkdtempSync(join(tmpdir(), 'weft-probe-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    it("reports ready only for the pod's own agent, never for the other one sharing the port", async () => {
      // Each pod's /tmp is its own emptyDir: one directory per pod.
      const oldPod = join(dir, 'old-pod');
      const newPod = join(dir, 'new-pod');
      mkdirSync(oldPod);
      mkdirSync(newPod);
      const port = await freePort();
      let giving = false;
      let newServing = false;
      const old = await agent(
        { ready: () => true, handingOver: () => giving, revision: 'same' },
        port,
        join(oldPod, 'health.sock'),
      );
      // The new pod's first probe: its agent has not even bound its socket yet.
      let r = await probe(join(newPod, 'health.sock'));
      expect(r).toEqual({
        code: 1,
        stdout: '',
        stderr: `${p}: agent not started: no socket at ${newPod}/health.sock\n`,
      });
      const fresh = await agent(
        { ready: () => newServing, handingOver: () => false, revision: 'same' },
        port,
        join(newPod, 'health.sock'),
      );
      try {
        // The hazard: the node's port, asked with this revision, is answered by both agents
        // (SO_REUSEPORT spreads connections by their source port), and the old one says 200
        // while the new one has not taken over.
        const answers = new Set<number>();
        for (let i = 0; i < 40 && answers.size < 2; i++)
          answers.add(await portStatus(port, { 'x-weft-revision': 'same' }));
        expect([...answers].sort()).toEqual([200, 503]);
        // The new pod's probe reaches the new agent only: not ready, every time.
        for (let i = 0; i < 3; i++) {
          r = await probe(join(newPod, 'health.sock'));
          expect(r).toEqual({
            code: 1,
            stdout: '',
            stderr: `${p}: not ready: initial cluster state not synced\n`,
          });
        }
        // The old pod's probe asks the old agent, still ready before any hello.
        expect(await probe(join(oldPod, 'health.sock'))).toEqual({
          code: 0,
          stdout: 'ready\n',
          stderr: '',
        });
        // The new agent says hello (the old one hands over), then accepts and serves.
        giving = true;
        newServing = true;
        expect(await probe(join(newPod, 'health.sock'))).toEqual({
          code: 0,
          stdout: 'ready\n',
          stderr: '',
        });
        expect(await probe(join(oldPod, 'health.sock'))).toEqual({
          code: 1,
          stdout: '',
          stderr: `${p}: not ready: handing over to a newer agent\n`,
        });
        // Still live: the kubelet does not restart the old agent while it drains.
        expect(await run(['live', '--socket', join(oldPod, 'health.sock')])).toEqual({
          code: 0,
          stdout: 'ok\n',
          stderr: '',
        });
      } finally {
        old.close();
        fresh.close();
      }
      // Stopped: each socket is gone with its agent.
      r = await probe(join(oldPod, 'health.sock'));
      expect(r.stderr).toBe(`${p}: agent not started: no socket at ${oldPod}/health.sock\n`);
    });
  },
);

describe.each(PROBES)('$name: what it cannot use', { timeout: 60_000 }, ({ p, run }) => {
  const probe = (socket: string, ...more: string[]) => run(['ready', '--socket', socket, ...more]);
  // Each probe's files apart from the other's.
  const dir = mkdtempSync(join(tmpdir(), 'weft-probe-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  /** A unix server at path that handles each connection with talk. */
  async function server(path: string, talk: (c: Socket) => void): Promise<Server> {
    const s = createServer((c) => {
      // A probe that stops reading (an answer too long) resets the connection.
      c.on('error', () => {});
      talk(c);
    });
    await new Promise<void>((r) => s.listen(path, r));
    return s;
  }

  it('says the agent is not running when its socket outlived it (a crash)', async () => {
    const path = join(dir, 'stale.sock');
    // listenUnix renames its socket into place, so closing the server leaves the file, as
    // SIGKILL does.
    const s = createServer();
    await listenUnix(s, path);
    await new Promise((r) => s.close(r));
    expect(await probe(path)).toEqual({
      code: 1,
      stdout: '',
      stderr: `${p}: agent not running: nothing listens on ${path}\n`,
    });
  });

  it('refuses what is not a socket, and what is not a weft agent', async () => {
    const file = join(dir, 'file');
    writeFileSync(file, 'ready\n');
    expect((await probe(file)).stderr).toBe(
      `${p}: ${file} is not a socket (give the agent's --health-socket)\n`,
    );
    const garbled = join(dir, 'garbled.sock');
    const g = await server(garbled, (c) => c.end('hello there\r\n\r\n'));
    const notFound = join(dir, 'not-found.sock');
    const n = await server(notFound, (c) =>
      c.end('HTTP/1.1 404 Not Found\r\ncontent-length: 10\r\n\r\nnot found\n'),
    );
    const huge = join(dir, 'huge.sock');
    const h = await server(huge, (c) =>
      c.end(`HTTP/1.1 200 OK\r\ncontent-length: 4096\r\n\r\n${'y'.repeat(4096)}`),
    );
    try {
      let r = await probe(garbled);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^${p}: not a weft agent on ${garbled}: .+\n$`));
      r = await probe(notFound);
      expect(r).toEqual({
        code: 1,
        stdout: '',
        stderr: `${p}: not a weft agent on ${notFound}: 404 not found\n`,
      });
      // A 200 with a body no agent sends is not taken for ready.
      r = await probe(huge);
      expect(r).toEqual({
        code: 1,
        stdout: '',
        stderr: `${p}: not a weft agent on ${huge}: an answer over 1024 bytes\n`,
      });
    } finally {
      g.close();
      n.close();
      h.close();
    }
  });

  it('gives up after --timeout on an agent that does not answer', async () => {
    const path = join(dir, 'silent.sock');
    const held: Socket[] = [];
    const s = await server(path, (c) => held.push(c));
    try {
      const r = await probe(path, '--timeout', '0.2');
      expect(r).toEqual({
        code: 1,
        stdout: '',
        stderr: `${p}: no answer from the agent on ${path} within 0.2 s\n`,
      });
      expect(held.length).toBe(1);
    } finally {
      for (const c of held) c.destroy();
      s.close();
    }
  });

  it('says permission denied to a user who may not reach the socket', async () => {
    const private_ = join(dir, 'private');
    mkdirSync(private_, { mode: 0o700 });
    const path = join(private_, 'health.sock');
    const h = await agent({ ready: () => true }, 0, path);
    try {
      chmodSync(dir, 0o755);
      const r = await run(['ready', '--socket', path], { uid: 65534 });
      expect(r).toEqual({
        code: 1,
        stdout: '',
        stderr: `${p}: ${path}: permission denied (the socket is its agent's user's only)\n`,
      });
      // Its own user (root here, as in the agent's container) is answered.
      expect((await probe(path)).code).toBe(0);
    } finally {
      h.close();
    }
  });
});

describe('weft probe and weft-probe: usage', () => {
  it('names wrong usage and exits 2', async () => {
    let r = await weft(['probe']);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/^Usage: weft probe <ready\|live>/);
    r = await weft(['probe', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /--socket PATH {3}the agent's --health-socket \(default \/tmp\/weft-health\.sock\)/,
    );
    const cases: [string[], string][] = [
      [['sideways'], "weft: probe: unknown subcommand 'sideways'. Run 'weft probe --help'.\n"],
      [
        ['ready', '--timeout', 'soon'],
        'weft: probe ready: --timeout takes seconds, from 0.1 to 60, not soon\n',
      ],
      [
        ['ready', '--timeout', '0'],
        'weft: probe ready: --timeout takes seconds, from 0.1 to 60, not 0\n',
      ],
      [['ready', '--socket', ''], 'weft: probe ready: --socket takes a path\n'],
      [
        ['ready', 'extra'],
        "weft: probe ready: Unexpected argument 'extra'. This command does not take positional arguments. Run 'weft probe ready --help'.\n",
      ],
    ];
    for (const [args, err] of cases) {
      r = await weft(['probe', ...args]);
      expect(r.stderr).toBe(err);
      expect(r.code).toBe(2);
    }
  });

  it('weft-probe names wrong usage and exits 2', async () => {
    let r = await cProbe(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: weft-probe <ready\|live> \[--socket PATH\] \[--timeout S\]/);
    const cases: [string[], string][] = [
      [['sideways'], "weft-probe: unknown subcommand sideways. Run 'weft-probe --help'.\n"],
      [
        ['ready', '--timeout', 'soon'],
        "weft-probe: --timeout expects seconds from 0.1 to 60, not soon. Run 'weft-probe --help'.\n",
      ],
      [['ready', '--socket'], "weft-probe: missing value for --socket. Run 'weft-probe --help'.\n"],
      [['ready', '--what', 'x'], "weft-probe: unknown option --what. Run 'weft-probe --help'.\n"],
    ];
    for (const [args, err] of cases) {
      r = await cProbe(args);
      expect(r.stderr).toBe(err);
      expect(r.code).toBe(2);
    }
  });
});
