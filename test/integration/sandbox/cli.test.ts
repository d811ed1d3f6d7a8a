// The sandbox as a user drives it, through bin/weft: up (a daemon), status,
// exec, weft status, a crash, and down (twice: it is idempotent).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { repoRoot } from '../../../agent/src/datapath/native.ts';
import { cgroup2Root } from '../../../agent/src/datapath/system.ts';
import { NETNS_DIR } from '../../../agent/src/sandbox/host.ts';
import { loadSandboxState } from '../../../agent/src/sandbox/layout/state.ts';
import { teardown } from '../../../agent/src/sandbox/sandbox.ts';
import { describePrivileged } from '../../support/privileged.ts';
import { namespaces, workloads } from '../../support/shop.ts';

const weft = (...args: string[]) =>
  spawnSync(`${repoRoot}bin/weft`, args, { encoding: 'utf8', timeout: 60_000 });

describePrivileged('weft sandbox CLI', () => {
  const name = `c${process.pid}`;
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'weft-cli-'));
    writeFileSync(join(dir, 'ns.yaml'), namespaces(true));
    writeFileSync(join(dir, 'pods.yaml'), workloads);
  });
  afterAll(() => {
    teardown(name);
    rmSync(dir, { recursive: true, force: true });
  });

  it('comes up as a daemon and reports nodes, pods and services', () => {
    const up = weft('sandbox', 'up', '--name', name, '--manifests', dir);
    expect(up.stderr).toBe('');
    expect(up.status).toBe(0);
    const st = weft('sandbox', 'status', '--name', name);
    expect(st.status).toBe(0);
    expect(st.stdout).toMatch(/node-1\s+running \(pid \d+\)/);
    expect(st.stdout).toMatch(/shop\/server\s+node-2\s+10\.244\.2\.\d+/);
    expect(st.stdout).toMatch(/shop\/server\s+10\.96\.0\.10/);
  });

  it('runs a command inside a pod', () => {
    const ip = loadSandboxState(name).pods.find((p) => p.key === 'shop/client')!.ip;
    const r = weft(
      'sandbox',
      'exec',
      '--name',
      name,
      'shop/client',
      '--',
      'ip',
      '-4',
      '-o',
      'addr',
      'show',
      'eth0',
    );
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`inet ${ip}/32`);
    const self = weft(
      'sandbox',
      'exec',
      '--name',
      name,
      'shop/client',
      '--',
      'cat',
      '/proc/self/cgroup',
    );
    expect(self.stdout).toMatch(new RegExp(`weft-${name}/node-1/pod-\\d+`));
  });

  it('names what is wrong with a bad exec', () => {
    const r = weft('sandbox', 'exec', '--name', name, 'shop/nope', '--', 'true');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/no pod shop\/nope \(pods: .*shop\/client/);
  });

  it("shows a node's enrolled workloads through weft status", () => {
    const r = weft('status', '--sandbox', name, '--node', 'node-1');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(
      /shop\/client\s+10\.244\.1\.\d+\s+enrolled\s+\d+\s+outbound 127\.0\.0\.1:15001/,
    );
    expect(r.stdout).toMatch(/outside\/plain\s+10\.244\.1\.\d+\s+no/);
    const j = JSON.parse(
      weft('status', '--sandbox', name, '--node', 'node-2', '-o', 'json').stdout,
    );
    expect(j).toMatchObject({
      node: 'node-2',
      workloads: [expect.objectContaining({ key: 'shop/server', enrolled: true })],
    });
  });

  it('restarts a node agent by handover, and with --kill as a crash; weft status says which generation runs', () => {
    const before = loadSandboxState(name).nodes[0]!.agentPid!;
    const r = weft('sandbox', 'restart', '--name', name, '--node', 'node-1');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^node-1: agent pid \\d+ took over from ${before} `));
    // It returns once the old agent is gone; the state names the new one.
    expect(existsSync(`/proc/${before}`)).toBe(false);
    const after = loadSandboxState(name).nodes[0]!.agentPid!;
    expect(after).not.toBe(before);
    const st = weft('status', '--sandbox', name, '--node', 'node-1');
    expect(st.stdout).toMatch(
      new RegExp(
        `agent: generation 2, pid ${after}, started .*\\n  took over from generation 1 \\(pid ${before}\\): 5 listeners`,
      ),
    );
    const k = weft('sandbox', 'restart', '--name', name, '--node', 'node-1', '--kill');
    expect(k.status).toBe(0);
    expect(k.stdout).toMatch(new RegExp(`started after a kill of ${after} `));
    expect(weft('status', '--sandbox', name, '--node', 'node-1').stdout).toMatch(
      /agent: generation 3, pid \d+/,
    );
    const bad = weft('sandbox', 'restart', '--name', name, '--node', 'node-9');
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/--node is one of node-1, node-2, not node-9/);
  }, 120_000);

  it('goes down after a crash, leaving nothing, and down is idempotent', () => {
    const s = loadSandboxState(name);
    for (const pid of [s.controllerPid, ...s.nodes.map((n) => n.agentPid!)])
      process.kill(pid, 'SIGKILL');
    const r = weft('sandbox', 'down', '--name', name);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(readdirSync(NETNS_DIR).filter((n) => n.startsWith(`weft-${name}-`))).toEqual([]);
    expect(existsSync(join(cgroup2Root(), `weft-${name}`))).toBe(false);
    expect(existsSync(`/sys/fs/bpf/weft/${name}`)).toBe(false);
    expect(weft('sandbox', 'down', '--name', name).status).toBe(0);
  });
});
