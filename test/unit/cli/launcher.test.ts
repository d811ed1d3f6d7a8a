// bin/weft picks the Node to run and, for the agent only, the heap flags; for the agent and
// the readiness probe, the bundle (docs/performance.md). A stand-in "node" records how it was called.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const bin = new URL('../../../bin/weft', import.meta.url).pathname;
const DEFAULTS = [
  '--initial-old-space-size=128',
  '--external-memory-accounted-in-global-limit',
  '--max-semi-space-size=2',
];
const dir = mkdtempSync(join(tmpdir(), 'weft-launcher-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A fake node (version as given): `-e 0` (the launcher's probe) exits with probeExit; else it logs its argv. */
function fakeNode(
  name: string,
  probeExit: number,
  version = 'v22.18.0',
): { path: string; calls: () => string[][] } {
  const path = join(dir, name);
  const log = join(dir, `${name}.log`);
  writeFileSync(
    path,
    `#!/bin/sh\n[ "$1" = --version ] && { echo ${version}; exit 0; }\nfor a; do [ "$a" = -e ] && exit ${probeExit}; done\nprintf '%s\\n' "$*" >> '${log}'\n`,
  );
  chmodSync(path, 0o755);
  writeFileSync(log, '');
  return {
    path,
    calls: () =>
      readFileSync(log, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(' ')),
  };
}

/** Runs bin/weft (or another copy of it); the agent from its sources unless env says otherwise. */
function run(node: string, args: string[], env: Record<string, string> = {}, launcher = bin) {
  const base: NodeJS.ProcessEnv = { ...process.env, WEFT_NODE: node, WEFT_AGENT_SOURCES: '1' };
  delete base.WEFT_AGENT_NODE_FLAGS;
  delete base.MALLOC_ARENA_MAX;
  return spawnSync(launcher, args, { encoding: 'utf8', env: { ...base, ...env } });
}

describe('bin/weft', () => {
  it.each(['v22.12.0', 'v20.19.1', 'v18.0.0'])(
    'refuses Node %s in one line saying what to do, running nothing',
    (version) => {
      const n = fakeNode(`old-${version}`, 0, version);
      const r = run(n.path, ['check', '--pre']);
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(
        `weft: Node ${version} is too old; weft needs Node >= 22.18: run make (installs Node 24 into .tools/) or set WEFT_NODE\n`,
      );
      expect(n.calls()).toEqual([]);
    },
  );

  it.each(['v22.18.0', 'v23.1.0', 'v24.22.3'])('runs on Node %s', (version) => {
    const n = fakeNode(`new-${version}`, 0, version);
    expect(run(n.path, ['check', '--pre']).status).toBe(0);
    expect(n.calls()).toHaveLength(1);
  });

  it('runs the agent with the heap flags when the Node accepts them', () => {
    const n = fakeNode('accepts', 0);
    expect(run(n.path, ['agent', '--node', 'a']).status).toBe(0);
    const [argv] = n.calls();
    expect(argv!.slice(0, DEFAULTS.length)).toEqual(DEFAULTS);
    expect(argv![DEFAULTS.length]).toMatch(/agent\/src\/cli\/main\.ts$/);
    expect(argv!.slice(DEFAULTS.length + 1)).toEqual(['agent', '--node', 'a']);
  });

  it('runs the agent with V8 defaults on a Node that rejects them (Node 22), and says so', () => {
    const n = fakeNode('rejects', 9);
    const r = run(n.path, ['agent']);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(
      /^weft: this Node \(v22\.18\.0\) rejects the agent's heap flags; running with V8's defaults/,
    );
    const [argv] = n.calls();
    expect(argv![0]).toMatch(/main\.ts$/);
  });

  it('says when WEFT_NODE is not an executable', () => {
    const r = run('/nonexistent/node', ['--version']);
    expect(r.stderr).toMatch(
      /^weft: WEFT_NODE=\/nonexistent\/node is not an executable; using node from PATH\n/,
    );
  });

  it('never globs the flags', () => {
    const n = fakeNode('glob', 0);
    run(n.path, ['agent'], { WEFT_AGENT_NODE_FLAGS: '--trace-gc *' });
    expect(n.calls()[0]!.slice(0, 2)).toEqual(['--trace-gc', '*']);
  });

  it('takes WEFT_AGENT_NODE_FLAGS instead, untested, and empty means none', () => {
    const n = fakeNode('override', 9);
    run(n.path, ['agent'], { WEFT_AGENT_NODE_FLAGS: '--max-semi-space-size=32 --trace-gc' });
    run(n.path, ['agent'], { WEFT_AGENT_NODE_FLAGS: '' });
    const [withFlags, without] = n.calls();
    expect(withFlags!.slice(0, 2)).toEqual(['--max-semi-space-size=32', '--trace-gc']);
    expect(without![0]).toMatch(/main\.ts$/);
  });

  it('holds glibc to two malloc arenas for the agent only, unless MALLOC_ARENA_MAX is set', () => {
    // A stand-in node that logs MALLOC_ARENA_MAX as it got it, then its command.
    const path = join(dir, 'arenas');
    const log = join(dir, 'arenas.log');
    writeFileSync(
      path,
      `#!/bin/sh\n[ "$1" = --version ] && { echo v24.22.3; exit 0; }\nfor a; do [ "$a" = -e ] && exit 0; done\nfor a; do last=$a; done\necho "\${MALLOC_ARENA_MAX-unset} $last" >> '${log}'\n`,
    );
    chmodSync(path, 0o755);
    writeFileSync(log, '');
    run(path, ['agent']);
    run(path, ['agent'], { MALLOC_ARENA_MAX: '8' });
    run(path, ['status']);
    expect(readFileSync(log, 'utf8').split('\n').filter(Boolean)).toEqual([
      '2 agent',
      '8 agent',
      'unset status',
    ]);
  });

  it('gives other commands no flags', () => {
    const n = fakeNode('other', 0);
    run(n.path, ['status']);
    expect(n.calls()[0]!.slice(1)).toEqual(['status']);
  });

  it('starts the real agent command with the flags on the project Node (no fallback)', () => {
    const r = run(process.execPath, ['agent', '--help']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: weft agent/);
  });

  it('starts the real agent command from the bundle make build wrote', () => {
    const bundle = new URL('../../../build/agent/bundle/main.mjs', import.meta.url).pathname;
    const r = spawnSync(process.execPath, [bundle, 'agent', '--help'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^Usage: weft agent/);
    const p = spawnSync(process.execPath, [bundle, 'probe', '--help'], { encoding: 'utf8' });
    expect(p.stdout).toMatch(/^Usage: weft probe/);
    const v = spawnSync(process.execPath, [bundle, '--version'], { encoding: 'utf8' });
    const fromSources = run(process.execPath, ['--version']);
    expect(v.stdout).toBe(fromSources.stdout);
  });
});

describe('the bundle the agent runs', () => {
  const dir = new URL('../../../build/agent/bundle/', import.meta.url).pathname;
  // esbuild heads each source's part of a chunk with a comment naming the file.
  const agentChunk = readdirSync(dir).find(
    (f) =>
      f.endsWith('.mjs') &&
      readFileSync(join(dir, f), 'utf8').includes('\n// agent/src/agent/agent.ts\n'),
  );

  it("imports no X.509 library: the CA's lives in identity/ca/, which the agent never loads", () => {
    expect(agentChunk).toBeDefined();
    const packages = new Set<string>();
    const seen = new Set<string>();
    const todo = [agentChunk!];
    while (todo.length > 0) {
      const f = todo.pop()!;
      if (seen.has(f)) continue;
      seen.add(f);
      // Static imports only: dynamic ones load when asked for (the Kubernetes client, OpenTelemetry).
      for (const m of readFileSync(join(dir, f), 'utf8').matchAll(/^import\b[^;]*?"([^"]+)";/gms)) {
        if (m[1]!.startsWith('./')) todo.push(m[1]!.slice(2));
        else packages.add(m[1]!);
      }
    }
    expect(seen.size).toBeGreaterThan(3);
    expect(packages).toContain('prom-client');
    expect([...packages].filter((p) => /peculiar|asn1|reflect-metadata|tsyringe/.test(p))).toEqual(
      [],
    );
  });

  it("loads without Node's undici: node:http comes through require, not its ESM face", () => {
    const r = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `await import(${JSON.stringify(join(dir, agentChunk!))});
         console.log(JSON.stringify(process.moduleLoadList.filter((m) => /undici|webstreams/.test(m))));`,
      ],
      { encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual([]);
  });
});

describe('bin/weft agent: the bundle, or the sources when it is older', () => {
  // A tree of the repository's shape: bin/weft, agent/src, package.json, the bundle.
  const root = join(dir, 'tree');
  const launcher = join(root, 'bin/weft');
  const source = join(root, 'agent/src/cli/main.ts');
  const bundle = join(root, 'build/agent/bundle/main.mjs');
  for (const f of [source, bundle, join(root, 'package.json')]) {
    mkdirSync(join(f, '..'), { recursive: true });
    writeFileSync(f, '');
  }
  mkdirSync(join(root, 'bin'));
  copyFileSync(bin, launcher);
  const age = (path: string, secondsAgo: number) => {
    const t = Date.now() / 1000 - secondsAgo;
    utimesSync(path, t, t);
  };
  const agentRun = (env: Record<string, string> = {}) => {
    const n = fakeNode(`tree-${Object.keys(env).join('-') || 'plain'}-${Math.random()}`, 0);
    const r = run(n.path, ['agent', '--node', 'a'], { WEFT_AGENT_SOURCES: '', ...env }, launcher);
    return { stderr: r.stderr, main: n.calls()[0]![DEFAULTS.length]! };
  };
  const fresh = () => {
    for (const d of ['agent/src/cli', 'agent/src', 'agent', 'package.json'])
      age(join(root, d), 100);
    age(source, 100);
    age(bundle, 10);
  };

  it('runs the bundle while it is newer than every source', () => {
    fresh();
    const r = agentRun();
    expect(r.main).toBe(`${root}/bin/../build/agent/bundle/main.mjs`);
    expect(r.stderr).toBe('');
  });

  it('runs the sources, and says so, once a source file is newer', () => {
    fresh();
    age(source, 1);
    const r = agentRun();
    expect(r.main).toBe(`${root}/bin/../agent/src/cli/main.ts`);
    expect(r.stderr).toMatch(
      /^weft: build\/agent\/bundle is older than agent\/src; running the sources/,
    );
  });

  it('runs the sources once a source file was deleted (its folder is newer)', () => {
    fresh();
    age(join(root, 'agent/src/cli'), 1);
    expect(agentRun().main).toMatch(/agent\/src\/cli\/main\.ts$/);
  });

  it('runs the sources when WEFT_AGENT_SOURCES=1, and when there is no bundle', () => {
    fresh();
    expect(agentRun({ WEFT_AGENT_SOURCES: '1' }).main).toMatch(/main\.ts$/);
    rmSync(bundle);
    const r = agentRun();
    expect(r.main).toMatch(/main\.ts$/);
    expect(r.stderr).toBe('');
    writeFileSync(bundle, '');
  });

  it('runs the readiness probe from the bundle too, without the heap flags', () => {
    // The kubelet runs it every few seconds: no type stripper to load each time.
    fresh();
    const n = fakeNode('tree-probe', 0);
    run(n.path, ['probe', 'ready'], { WEFT_AGENT_SOURCES: '' }, launcher);
    expect(n.calls()[0]).toEqual([`${root}/bin/../build/agent/bundle/main.mjs`, 'probe', 'ready']);
  });

  it('runs other commands from the sources', () => {
    fresh();
    const n = fakeNode('tree-status', 0);
    run(n.path, ['status'], { WEFT_AGENT_SOURCES: '' }, launcher);
    expect(n.calls()[0]![0]).toBe(`${root}/bin/../agent/src/cli/main.ts`);
  });
});
