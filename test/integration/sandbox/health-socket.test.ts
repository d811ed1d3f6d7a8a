// A real agent's health socket (--health-socket) and `weft probe ready` on it, through the
// agent's lifecycle on a sandbox node: ready once it serves; after a handover the socket is
// the new agent's (the old one, exiting, leaves it alone); gone after SIGTERM; left behind
// by SIGKILL, where the probe says nothing listens. The sandbox's agents share one mount
// namespace, so here both agents of a handover are given the same path; in a pod each has
// its own /tmp (test/unit/cli/probe.test.ts shows the probe then reaches only its own).
import { execFile } from 'node:child_process';
import { lstatSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describePrivileged } from '../../support/privileged.ts';
import { type TestCluster, testCluster } from '../../support/sandbox.ts';
import { namespaces } from '../../support/shop.ts';
import { until } from '../../support/until.ts';

const bin = new URL('../../../bin/weft', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'weft-hs-'));
const socket = join(dir, 'health.sock');

function probe(): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      bin,
      ['probe', 'ready', '--socket', socket],
      { encoding: 'utf8', env: { ...process.env, WEFT_AGENT_SOURCES: '1' } },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, out: stdout + stderr }),
    );
  });
}

describePrivileged('a real agent behind weft probe ready', () => {
  let c: TestCluster;

  beforeAll(async () => {
    c = await testCluster('hs', { 'ns.yaml': namespaces(true) }, 1, {
      agentArgs: ['--health-socket', socket],
    });
  }, 90_000);
  afterAll(async () => {
    await c?.down();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is ready once the agent serves, and stays so across a handover', async () => {
    expect(lstatSync(socket).mode & 0o777).toBe(0o600);
    expect(await probe()).toEqual({ code: 0, out: 'ready\n' });
    const before = lstatSync(socket).ino;
    const r = await c.sandbox.restartAgent('node-1');
    expect(r.oldPid).not.toBeNull();
    expect(r.pid).not.toBe(r.oldPid);
    // The new agent's socket, which the old one did not remove as it exited.
    expect(lstatSync(socket).ino).not.toBe(before);
    expect(await probe()).toEqual({ code: 0, out: 'ready\n' });
  }, 90_000);

  it('finds no socket after SIGTERM, and a dead one after SIGKILL', async () => {
    await c.sandbox.stopAgent('node-1', 'SIGTERM');
    await until('the socket to go', () => {
      try {
        lstatSync(socket);
        return false;
      } catch {
        return true;
      }
    });
    expect(await probe()).toEqual({
      code: 1,
      out: `weft probe: agent not started: no socket at ${socket}\n`,
    });
    await c.sandbox.startAgent('node-1');
    expect((await probe()).code).toBe(0);
    await c.sandbox.stopAgent('node-1', 'SIGKILL');
    expect(await probe()).toEqual({
      code: 1,
      out: `weft probe: agent not running: nothing listens on ${socket}\n`,
    });
  }, 90_000);
});
