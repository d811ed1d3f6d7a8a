// `weft issuer --kubernetes` as the chart runs it, against a local server that
// speaks the Kubernetes API's wire protocol (test/support/fake-apiserver.ts,
// not a real API server): the CA is generated into a Secret and its roots into
// a ConfigMap, agents authenticate by TokenReview over TLS, and a node's token
// obtains identities of its own pods only.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifySvid } from '../../../agent/src/identity/ca/verify.ts';
import { CaClient, IssuerError } from '../../../agent/src/identity/caclient.ts';
import { generateKeyAndCsr } from '../../../agent/src/identity/keys.ts';
import { FakeApiServer, writeKubeconfig } from '../../support/fake-apiserver.ts';

const bin = new URL('../../../bin/weft', import.meta.url).pathname;
const AGENT = 'system:serviceaccount:weft-system:weft-agent';
const AUD = ['weft-issuer'];

const pod = (ns: string, name: string, sa: string, node: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { namespace: ns, name },
  spec: { nodeName: node, serviceAccountName: sa, containers: [{ name: 'c', image: 'c' }] },
  status: { phase: 'Running' },
});

function startIssuer(kubeconfig: string, extra: string[] = []) {
  const child = spawn(
    bin,
    ['issuer', '--kubernetes', '--kubeconfig', kubeconfig, '--listen', '127.0.0.1:0', ...extra],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  const port = new Promise<number>((resolve, reject) => {
    child.stderr!.on('data', (d) => {
      log += d;
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(log);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`issuer exited ${code}: ${log}`)));
  });
  return { child, port, log: () => log };
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await gone;
}

describe('weft issuer --kubernetes', () => {
  let api: FakeApiServer;
  let dir: string;
  let kubeconfig: string;
  let issuer: ReturnType<typeof startIssuer> | undefined;
  let port: number;
  let roots: string;

  beforeAll(async () => {
    api = await new FakeApiServer().start();
    api.apply(pod('shop', 'cart-1', 'cart', 'node-a'));
    api.apply(pod('shop', 'payments-1', 'payments', 'node-b'));
    api.apply(pod('weft-system', 'weft-agent-xyz', 'weft-agent', 'node-a'));
    api.tokens.set('token-a', {
      username: AGENT,
      audiences: AUD,
      extra: { 'authentication.kubernetes.io/node-name': ['node-a'] },
    });
    api.tokens.set('token-b', {
      username: AGENT,
      audiences: AUD,
      extra: { 'authentication.kubernetes.io/node-name': ['node-b'] },
    });
    // An older cluster: the token names the agent pod only; its node is looked up.
    api.tokens.set('token-pod-a', {
      username: AGENT,
      audiences: AUD,
      extra: { 'authentication.kubernetes.io/pod-name': ['weft-agent-xyz'] },
    });
    api.tokens.set('token-other-aud', {
      username: AGENT,
      audiences: ['https://kubernetes.default'],
    });
    api.tokens.set('token-app', {
      username: 'system:serviceaccount:shop:cart',
      audiences: AUD,
      extra: { 'authentication.kubernetes.io/node-name': ['node-a'] },
    });
    dir = mkdtempSync(join(tmpdir(), 'weft-issuer-k8s-'));
    kubeconfig = writeKubeconfig(dir, api.url, 'issuer');
    issuer = startIssuer(kubeconfig);
    port = await issuer.port;
    roots = Buffer.from(
      api.get('ConfigMap', 'v1', 'weft-system', 'weft-ca-root')!.data['root.pem'],
    ).toString();
  }, 30_000);

  afterAll(async () => {
    await stop(issuer?.child);
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const client = (token: string) =>
    new CaClient({
      address: `https://127.0.0.1:${port}`,
      serverName: 'weft-issuer.weft-system.svc',
      token,
      caPem: roots,
    });

  async function ask(token: string, ns: string, sa: string) {
    const id = `spiffe://cluster.local/ns/${ns}/sa/${sa}`;
    const { csrPem } = await generateKeyAndCsr(id);
    return client(token).sign(csrPem, id);
  }

  it('generates the CA into a Secret and publishes its root in a ConfigMap', () => {
    const secret = api.get('Secret', 'v1', 'weft-system', 'weft-ca');
    expect(secret?.type).toBe('kubernetes.io/tls');
    expect(Object.keys(secret!.data).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
    expect(roots).toContain('BEGIN CERTIFICATE');
    expect(Buffer.from(secret!.data['ca.crt'], 'base64').toString()).toBe(roots);
  });

  it("gives node A's agent the identity of a pod on node A, verifiable by the published root", async () => {
    const svid = await ask('token-a', 'shop', 'cart');
    const v = verifySvid(svid.certPem, svid.chainPem, [roots]);
    expect(v).toMatchObject({ ok: true, spiffeId: 'spiffe://cluster.local/ns/shop/sa/cart' });
  });

  it('refuses node A an identity that only runs on node B, and gives it to node B', async () => {
    const refused = await ask('token-a', 'shop', 'payments').catch((e: IssuerError) => e);
    expect(refused).toBeInstanceOf(IssuerError);
    expect((refused as IssuerError).status).toBe(403);
    expect((refused as IssuerError).message).toMatch(
      /node node-a runs no pod with service account shop\/payments/,
    );
    const svid = await ask('token-b', 'shop', 'payments');
    expect(svid.certPem).toContain('BEGIN CERTIFICATE');
  });

  it('finds the node of a token bound only to the agent pod', async () => {
    await expect(ask('token-pod-a', 'shop', 'cart')).resolves.toHaveProperty('certPem');
    await expect(ask('token-pod-a', 'shop', 'payments')).rejects.toMatchObject({ status: 403 });
  });

  it('refuses tokens for another audience, of another service account, or unknown', async () => {
    await expect(ask('token-other-aud', 'shop', 'cart')).rejects.toMatchObject({ status: 401 });
    await expect(ask('token-app', 'shop', 'cart')).rejects.toMatchObject({
      status: 401,
      message: expect.stringMatching(/is not the agent/),
    });
    await expect(ask('forged', 'shop', 'cart')).rejects.toMatchObject({ status: 401 });
  });

  it('an agent that does not trust the root cannot talk to it', async () => {
    const other = (await import('../../../agent/src/identity/ca/ca.ts')).generateRootCA;
    const foreign = (await other({ trustDomain: 'cluster.local' })).certPem;
    const c = new CaClient({
      address: `https://127.0.0.1:${port}`,
      serverName: 'weft-issuer.weft-system.svc',
      token: 'token-a',
      caPem: foreign,
    });
    await expect(c.bundle()).rejects.toThrow(/certificate|verify|self.signed/i);
  });

  it('marks weft AuthorizationPolicies Accepted or Rejected in their status', async () => {
    const ap = (name: string, action: string) => ({
      apiVersion: 'security.weft.dev/v1alpha1',
      kind: 'AuthorizationPolicy',
      metadata: { namespace: 'shop', name },
      spec: { action, rules: [{}] },
    });
    api.apply(ap('fine', 'ALLOW'));
    api.apply(ap('broken', 'PERHAPS'));
    const cond = (name: string) =>
      api
        .get('AuthorizationPolicy', 'security.weft.dev/v1alpha1', 'shop', name)
        ?.status?.conditions?.find((c: { type: string }) => c.type === 'Accepted');
    const deadline = Date.now() + 10_000;
    while ((!cond('fine') || !cond('broken')) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(cond('fine')).toMatchObject({ status: 'True', reason: 'Accepted' });
    expect(cond('broken')).toMatchObject({ status: 'False', reason: 'Rejected' });
  });

  it('keeps the same CA across a restart, and a provided Secret that is missing is an error', async () => {
    const before = api.get('Secret', 'v1', 'weft-system', 'weft-ca')!.data['tls.crt'];
    await stop(issuer!.child);
    issuer = startIssuer(kubeconfig);
    port = await issuer.port;
    expect(api.get('Secret', 'v1', 'weft-system', 'weft-ca')!.data['tls.crt']).toBe(before);
    await expect(ask('token-a', 'shop', 'cart')).resolves.toHaveProperty('certPem');
    const missing = startIssuer(kubeconfig, ['--ca-secret', 'from-cert-manager', '--ca-existing']);
    await expect(missing.port).rejects.toThrow(
      /Secret weft-system\/from-cert-manager does not exist/,
    );
  }, 30_000);
});
