// `weft issuer` as an operator runs it: a CA generated on first start, node
// tokens, SVIDs for a node's own pods only, SIGHUP reload, clean SIGTERM.
import { type ChildProcess, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifySvid } from '../../../agent/src/identity/ca/verify.ts';
import { CaClient } from '../../../agent/src/identity/caclient.ts';
import { generateKeyAndCsr } from '../../../agent/src/identity/keys.ts';
import { until } from '../../support/until.ts';

const bin = new URL('../../../bin/weft', import.meta.url).pathname;
const TOKEN = 'a'.repeat(32);
const pods = `apiVersion: v1
kind: Pod
metadata: {name: cart, namespace: shop}
spec: {nodeName: node-a, serviceAccountName: cart, containers: [{name: c}]}
`;

describe('weft issuer', () => {
  let dir: string;
  let child: ChildProcess;
  let stderr = '';
  let client: CaClient;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-issuer-'));
    mkdirSync(join(dir, 'manifests'));
    mkdirSync(join(dir, 'tokens'));
    writeFileSync(join(dir, 'manifests', 'pods.yaml'), pods);
    writeFileSync(join(dir, 'tokens', 'node-a'), TOKEN);
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
      '--svid-lifetime',
      '3600',
    ]);
    child.stderr?.on('data', (d) => {
      stderr += d;
    });
    // A loaded machine starts Node slowly: wait for the line, not a fixed few seconds.
    await until('the issuer to listen', () => stderr.includes('listening'), 30_000);
    client = new CaClient({ address: sock, token: TOKEN });
  }, 40_000);
  afterAll(() => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('generates its CA on first start, key readable by root only', () => {
    expect(stderr).toContain('listening');
    expect(existsSync(join(dir, 'ca', 'ca.pem'))).toBe(true);
    expect(statSync(join(dir, 'ca', 'ca-key.pem')).mode & 0o777).toBe(0o600);
  });

  it("signs an SVID for the node's own pod that verifies against the bundle", async () => {
    const id = 'spiffe://cluster.local/ns/shop/sa/cart';
    const { csrPem } = await generateKeyAndCsr(id);
    const s = await client.sign(csrPem, id);
    const v = verifySvid(s.certPem, s.chainPem, s.roots);
    expect(v).toMatchObject({ ok: true, spiffeId: id });
    expect(new Date(s.notAfter).getTime() - Date.now()).toBeLessThanOrEqual(3600_000);
  });

  it('refuses other identities and unknown tokens', async () => {
    const id = 'spiffe://cluster.local/ns/shop/sa/web';
    const { csrPem } = await generateKeyAndCsr(id);
    await expect(client.sign(csrPem, id)).rejects.toMatchObject({ status: 403 });
    await expect(
      new CaClient({ address: join(dir, 'issuer.sock'), token: 'b'.repeat(32) }).sign(csrPem, id),
    ).rejects.toMatchObject({ status: 401 });
    expect(stderr).toMatch(/refused spiffe:\/\/cluster\.local\/ns\/shop\/sa\/web to node-a/);
  });

  it('reloads its CA on SIGHUP and exits cleanly on SIGTERM', { timeout: 30_000 }, async () => {
    child.kill('SIGHUP');
    await until('the CA reload', () => stderr.includes('CA reloaded'), 15_000);
    expect(stderr).toContain('CA reloaded');
    expect(readFileSync(join(dir, 'ca', 'roots.pem'), 'utf8')).toContain('BEGIN CERTIFICATE');
    const code = await new Promise((r) => {
      child.once('exit', r);
      child.kill('SIGTERM');
    });
    expect(code).toBe(0);
  });
});
