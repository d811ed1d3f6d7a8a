// `weft issuer --log-level warn --metrics-port P`: JSON log lines at the level
// asked (refusals are warnings, signings are not), and the issuer's metrics:
// signings, refusals by reason, seconds until its CA expires.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CaClient } from '../../../agent/src/identity/caclient.ts';
import { generateKeyAndCsr } from '../../../agent/src/identity/keys.ts';

const bin = new URL('../../../bin/weft', import.meta.url).pathname;
const TOKEN = 'a'.repeat(32);
const pods = `apiVersion: v1
kind: Pod
metadata: {name: cart, namespace: shop}
spec: {nodeName: node-a, serviceAccountName: cart, containers: [{name: c}]}
`;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('weft issuer: logs and metrics', () => {
  let dir: string;
  let child: ChildProcess;
  let stderr = '';
  let port: number;
  let client: CaClient;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-issuer-obs-'));
    mkdirSync(join(dir, 'manifests'));
    mkdirSync(join(dir, 'tokens'));
    writeFileSync(join(dir, 'manifests', 'pods.yaml'), pods);
    writeFileSync(join(dir, 'tokens', 'node-a'), TOKEN);
    port = await freePort();
    const sock = join(dir, 'issuer.sock');
    child = spawn(bin, [
      'issuer',
      '--listen',
      sock,
      '--ca-dir',
      join(dir, 'ca'),
      '--manifests',
      join(dir, 'manifests'),
      '--node-tokens',
      join(dir, 'tokens'),
      '--log-level',
      'warn',
      '--metrics-port',
      String(port),
    ]);
    child.stderr?.on('data', (d) => {
      stderr += d;
    });
    client = new CaClient({ address: sock, token: TOKEN });
    const id = 'spiffe://cluster.local/ns/shop/sa/cart';
    const { csrPem } = await generateKeyAndCsr(id);
    for (let i = 0; i < 200; i++) {
      try {
        await client.sign(csrPem, id);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const other = 'spiffe://cluster.local/ns/shop/sa/web';
    await client.sign((await generateKeyAndCsr(other)).csrPem, other).catch(() => {});
  });
  afterAll(() => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes JSON lines at warn and above only', () => {
    const lines = stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) {
      expect(['warn', 'error']).toContain(l.level);
      expect(l.name).toBe('issuer');
      expect(typeof l.time).toBe('string');
    }
    expect(
      lines.some((l) => /^refused spiffe:\/\/cluster\.local\/ns\/shop\/sa\/web/.test(l.msg)),
    ).toBe(true);
    // Signings and "listening" are info: not written at warn.
    expect(stderr).not.toMatch(/issued|listening/);
  });

  it('serves signings, refusals by reason and the CA expiry on /metrics', async () => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(text).toMatch(/^weft_issuer_signings_total 1$/m);
    expect(text).toMatch(/^weft_issuer_refusals_total\{reason="not_authorized"\} 1$/m);
    const expiry = Number(/^weft_issuer_ca_expiry_seconds (\S+)$/m.exec(text)?.[1]);
    expect(expiry).toBeGreaterThan(86_400);
    expect(text).toContain('nodejs_eventloop_lag_seconds');
  });
});
