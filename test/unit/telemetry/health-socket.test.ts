// The agent's health socket (--health-socket), what the pod's exec readiness probe asks:
// mode 0600 from the moment it is reachable, put over a stale file a crashed agent left,
// removed when the agent stops, but never removed from under a newer agent that has put
// its own there; it serves /healthz/* only, with the same answers as the port.
import { lstatSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { listenUnix } from '../../../agent/src/admin/index.ts';
import { HealthServer, type HealthSource } from '../../../agent/src/telemetry/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'weft-health-socket-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function ask(socketPath: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request({ socketPath, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

const start = (src: HealthSource, path: string) =>
  HealthServer.start(src, { socket: { path, listen: listenUnix } });

describe('the health socket', () => {
  it('serves readiness and liveness only, mode 0600, and goes when the agent stops', async () => {
    const path = join(dir, 'plain.sock');
    let ready = false;
    const h = await start({ ready: () => ready, metrics: async () => 'x 1\n' }, path);
    try {
      expect(lstatSync(path).isSocket()).toBe(true);
      expect(lstatSync(path).mode & 0o777).toBe(0o600);
      expect(await ask(path, '/healthz/ready')).toEqual({
        status: 503,
        body: 'initial cluster state not synced\n',
      });
      ready = true;
      expect(await ask(path, '/healthz/ready')).toEqual({ status: 200, body: 'ready\n' });
      expect((await ask(path, '/healthz/live')).status).toBe(200);
      // Metrics and flows stay on the metrics port.
      expect((await ask(path, '/metrics')).status).toBe(404);
    } finally {
      h.close();
    }
    expect(() => lstatSync(path)).toThrow(/ENOENT/);
  });

  it('says 503 once a newer agent takes over, as the port does', async () => {
    const path = join(dir, 'giving.sock');
    const h = await start({ ready: () => true, handingOver: () => true }, path);
    try {
      expect(await ask(path, '/healthz/ready')).toEqual({
        status: 503,
        body: 'handing over to a newer agent\n',
      });
      expect((await ask(path, '/healthz/live')).status).toBe(200);
    } finally {
      h.close();
    }
  });

  it('replaces what a crashed agent left, and leaves a newer agent its socket', async () => {
    const path = join(dir, 'shared.sock');
    writeFileSync(path, 'left by a crash');
    const first = await start({ ready: () => false }, path);
    expect(lstatSync(path).isSocket()).toBe(true);
    // Where two agents share the path (a plain host), the newer one's socket is the one there.
    const second = await start({ ready: () => true }, path);
    try {
      first.close();
      expect(lstatSync(path).isSocket()).toBe(true);
      expect((await ask(path, '/healthz/ready')).status).toBe(200);
    } finally {
      second.close();
    }
    expect(() => lstatSync(path)).toThrow(/ENOENT/);
  });

  it('names the path when it cannot listen there', async () => {
    const path = join(dir, 'missing-dir', 'x.sock');
    await expect(start({ ready: () => true }, path)).rejects.toThrow(
      new RegExp(`^health socket: ENOENT.* '${join(dir, 'missing-dir')}/`),
    );
  });
});
