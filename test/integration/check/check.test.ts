// weft check on this machine, as a user runs it: the probes really load every
// object into the kernel, and nothing of them is left pinned or attached once
// the command exits. Without a running agent the agent lines fail with a hint.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { JsonReport } from '../../../agent/src/check/render.ts';
import { type LoadedObject, loadObject, repoRoot } from '../../../agent/src/datapath/index.ts';
import { LAYOUT_VERSION } from '../../../agent/src/tables/layout.ts';
import { describePrivileged } from '../../support/privileged.ts';
import { makeRig, type Rig } from '../../support/rig.ts';

const bin = `${repoRoot}bin/weft`;
const weft = (...args: string[]) => spawnSync(bin, ['check', ...args], { encoding: 'utf8' });
const json = (r: ReturnType<typeof weft>) => JSON.parse(r.stdout) as JsonReport;
const byId = (j: JsonReport, id: string) => j.checks.find((c) => c.id === id);

/** Kernel ids of every BPF map that exists now. */
function mapIds(): Set<number> {
  const out = execFileSync('bpftool', ['-j', 'map', 'show'], { encoding: 'utf8' });
  return new Set((JSON.parse(out || '[]') as { id: number }[]).map((m) => m.id));
}

/** What could hold a pin the check left: bpffs' top level and the default pin root's files. */
function pinsNow(): string[] {
  const top = readdirSync('/sys/fs/bpf').map((f) => `/sys/fs/bpf/${f}`);
  const root = '/sys/fs/bpf/weft';
  const inRoot = existsSync(root)
    ? readdirSync(root)
        .map((f) => join(root, f))
        .filter((p) => !statSync(p).isDirectory()) // other tests' own pin directories
    : [];
  return [...top, ...inRoot].sort();
}

describePrivileged('weft check', () => {
  let rig: Rig;
  let tmp: string;
  beforeAll(() => {
    rig = makeRig('check');
    tmp = mkdtempSync(join(tmpdir(), `weft-t-check-${process.pid}-`));
    rig.cleanup.add(`dir ${tmp}`, () => rmSync(tmp, { recursive: true, force: true }));
  });
  afterAll(() => rig.teardown());

  it('passes --pre on this host, loading every object and leaving nothing behind', () => {
    const pinsBefore = pinsNow();
    const r = weft('--pre', '-o', 'json');
    expect(r.stderr).toBe('');
    const j = json(r);
    expect(j.checks.filter((c) => c.verdict === 'fail')).toEqual([]);
    expect(j.ok).toBe(true);
    expect(r.status).toBe(0);
    expect(j.checks.some((c) => c.category === 'agent')).toBe(false);

    const objects = readdirSync(`${repoRoot}build/bpf`).filter((f) => f.endsWith('.bpf.o'));
    expect(objects.length).toBeGreaterThanOrEqual(3);
    const created = new Set<number>();
    for (const f of objects) {
      const c = byId(j, `probe.object.${f.replace(/\.bpf\.o$/, '')}`);
      expect(c?.verdict, f).toBe('ok');
      expect(c?.detail).toMatch(/^\d+ programs?: weft_\w+ \(\w+\)/);
      expect(c?.mapIds?.length, f).toBeGreaterThan(0);
      for (const id of c?.mapIds ?? []) created.add(id);
    }
    for (const kind of ['sockhash', 'sockmap', 'ringbuf', 'lpm_trie']) {
      expect(byId(j, `probe.map.${kind}`)?.verdict, kind).toBe('ok');
    }
    // The kernel gave the probes' maps ids; with the command gone, no pin or
    // attached program holds any of them.
    expect(created.size).toBeGreaterThanOrEqual(10);
    // The kernel frees a closed map in deferred work, later still on a busy machine: what is
    // not pinned or attached is gone within moments, what is held stays.
    let left: number[] = [];
    for (let i = 0; i < 100; i++) {
      const alive = mapIds();
      left = [...created].filter((id) => alive.has(id));
      if (left.length === 0) break;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    }
    expect(left).toEqual([]);
    expect(pinsNow()).toEqual(pinsBefore);
  });

  it("shows a rejected program's verifier log, without a stack trace", () => {
    const dir = join(tmp, 'bpf');
    execFileSync('mkdir', ['-p', dir]);
    copyFileSync(
      `${repoRoot}build/test-bpf/verifier_reject.bpf.o`,
      join(dir, 'verifier_reject.bpf.o'),
    );
    const j = json(weft('--pre', '--bpf-dir', dir, '-o', 'json'));
    const c = byId(j, 'probe.object.verifier_reject');
    expect(c?.verdict).toBe('fail');
    expect(c?.detail).toMatch(/^load verifier_reject: .*\(EACCES\)\nverifier log:\n/);
    expect(c?.detail).toContain("invalid mem access 'map_value_or_null'");
    expect(c?.hint).toMatch(/verifier rejected a program/);

    const text = weft('--pre', '--bpf-dir', dir);
    expect(text.status).toBe(1);
    expect(text.stdout).toContain('× verifier_reject.bpf.o loads and passes the verifier\n');
    expect(text.stdout).toMatch(/\n {4}verifier log:\n/);
    expect(text.stdout).toMatch(/\nStatus check results are ×: \d+ of \d+ checks failed\n$/);
    expect(text.stdout + text.stderr).not.toMatch(/\n\s+at /);
  });

  it('fails without a running agent, exit 1, asking whether it runs', () => {
    const socket = join(tmp, 'agent.sock'); // nothing listens here
    const pins = `/sys/fs/bpf/weft/${rig.name}-absent`;
    const r = weft('--admin-socket', socket, '--bpffs', pins);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(
      `× the agent answers on its admin socket\n    no agent answers on ${socket}`,
    );
    expect(r.stdout).toContain(
      `    hint: is the agent running? weft agent --node NAME --manifests DIR --cgroup-root DIR --admin-socket ${socket}\n`,
    );
    expect(r.stdout).toContain(`    no weft maps pinned under ${pins}\n`);
    expect(r.stdout).toMatch(/\nStatus check results are ×: 2 of \d+ checks failed\n$/);
    expect(existsSync(pins)).toBe(false);

    const j = json(weft('--admin-socket', socket, '--bpffs', pins, '-o', 'json'));
    expect(j.ok).toBe(false);
    expect(j.checks.filter((c) => c.verdict === 'fail').map((c) => c.id)).toEqual([
      'agent.admin',
      'agent.layout',
    ]);
  });

  it("reads the pinned maps' layout version, and fails pins of another version", () => {
    const pins = rig.pinDir();
    const objs: LoadedObject[] = [];
    try {
      for (const f of ['sock_connect', 'sock_ops', 'sk_lookup'])
        objs.push(loadObject(`${repoRoot}build/bpf/${f}.bpf.o`, { pinRoot: pins }));
      const meta = objs[0]!.map<number, { layout_version: number; flags: number }>('meta');
      try {
        meta.set(0, { layout_version: LAYOUT_VERSION, flags: 0 });
        const good = byId(json(weft('--bpffs', pins, '-o', 'json')), 'agent.layout');
        expect(good?.verdict).toBe('ok');
        expect(good?.detail).toMatch(
          new RegExp(`^\\d+ maps under ${pins}, layout ${LAYOUT_VERSION}$`),
        );

        meta.set(0, { layout_version: LAYOUT_VERSION + 1, flags: 0 });
        const stale = byId(json(weft('--bpffs', pins, '-o', 'json')), 'agent.layout');
        expect(stale?.verdict).toBe('fail');
        expect(stale?.detail).toBe(
          `meta under ${pins} holds layout ${LAYOUT_VERSION + 1}; this weft has ${LAYOUT_VERSION}`,
        );
      } finally {
        meta.close();
      }
    } finally {
      for (const o of objs) o.close();
    }
  });
});
