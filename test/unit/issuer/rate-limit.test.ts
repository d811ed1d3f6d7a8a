// The issuer asks the API server to review a token only so often per source:
// past the limit it answers 429 with Retry-After and asks nothing, while
// answers it already has keep serving. Its unix socket has mode 0600 before
// anyone can reach it.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCaStore } from '../../../agent/src/issuer/ca-store.ts';
import { TokenReviewAuthenticator } from '../../../agent/src/issuer/kubernetes/tokenreview.ts';
import {
  DEFAULT_REVIEW_LIMIT,
  type RateLimit,
  SourceRateLimiter,
} from '../../../agent/src/issuer/rate-limit.ts';
import { IssuerServer } from '../../../agent/src/issuer/server.ts';
import { loadKubeConfig } from '../../../agent/src/sources/kubernetes/kubeconfig.ts';
import { FakeApiServer, writeKubeconfig } from '../../support/fake-apiserver.ts';
import { modesWhenListening } from '../../support/socket-watch.ts';

const limit = (l: Partial<RateLimit>): RateLimit => ({ ...DEFAULT_REVIEW_LIMIT, ...l });

describe('SourceRateLimiter', () => {
  it('lets a source spend its burst, then says how long to wait, and refills with time', () => {
    const r = new SourceRateLimiter(limit({ perSecond: 2, burst: 3 }), 0);
    expect([r.take('a', 0), r.take('a', 0), r.take('a', 0)]).toEqual([0, 0, 0]);
    expect(r.take('a', 0)).toBe(500);
    expect(r.take('b', 0)).toBe(0); // another source has its own bucket
    expect(r.take('a', 500)).toBe(0);
    expect(r.take('a', 500)).toBe(500);
  });

  it('holds all sources together to the global rate', () => {
    const r = new SourceRateLimiter(limit({ globalPerSecond: 1, globalBurst: 2 }), 0);
    expect([r.take('a', 0), r.take('b', 0)]).toEqual([0, 0]);
    expect(r.take('c', 0)).toBe(1000);
  });

  it('remembers maxSources sources at most, forgetting the least recently seen', () => {
    const r = new SourceRateLimiter(limit({ burst: 1, maxSources: 100 }), 0);
    expect(r.take('kept', 0)).toBe(0);
    for (let i = 0; i < 10_000; i++) {
      r.take(`10.0.${i >> 8}.${i & 255}`, 0);
      if (i % 50 === 0) r.take('kept', 0); // seen often: stays, and stays limited
    }
    expect(r.size).toBe(100);
    expect(r.take('kept', 0)).toBeGreaterThan(0);
  });

  it('refuses a limit that would let nothing through', () => {
    expect(() => new SourceRateLimiter(limit({ perSecond: 0 }))).toThrow(RangeError);
  });
});

function post(socketPath: string, token: string) {
  return new Promise<{ status: number; retryAfter?: string; body: string }>((resolve, reject) => {
    const req = request(
      {
        socketPath,
        method: 'POST',
        path: '/v1/svid',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      },
      (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            retryAfter: res.headers['retry-after'] as string | undefined,
            body,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ csr: 'x', spiffeId: 'spiffe://cluster.local/ns/shop/sa/cart' }));
  });
}

describe('issuer with TokenReview', () => {
  let api: FakeApiServer;
  let dir: string;
  let issuer: IssuerServer;
  let sock: string;
  let seen: (number | null)[];
  const reviews = () => api.requests.filter((r) => r.includes('/tokenreviews')).length;

  beforeAll(async () => {
    api = await new FakeApiServer().start();
    api.tokens.set('token-a', {
      username: 'system:serviceaccount:weft-system:weft-agent',
      audiences: ['weft-issuer'],
      extra: { 'authentication.kubernetes.io/node-name': ['node-a'] },
    });
    dir = mkdtempSync(join(tmpdir(), 'weft-issuer-limit-'));
    issuer = new IssuerServer({
      store: await openCaStore(join(dir, 'ca'), 'cluster.local'),
      trustDomain: 'cluster.local',
      authenticator: new TokenReviewAuthenticator({
        kubeConfig: loadKubeConfig(writeKubeconfig(dir, api.url, 'issuer')),
        audience: 'weft-issuer',
        agentServiceAccount: 'weft-system:weft-agent',
        podNode: () => undefined,
      }),
      cluster: () => ({ namespaces: new Map(), pods: new Map(), services: new Map() }),
      // One second per token, three at once.
      reviewLimit: limit({ perSecond: 1, burst: 3 }),
    });
    sock = join(dir, 'issuer.sock');
    ({ seen } = await modesWhenListening(sock, () => issuer.listen(sock)));
  }, 30_000);

  afterAll(async () => {
    issuer?.close();
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('listens on a socket of mode 0600, never reachable at its path with another mode', () => {
    expect(seen).toEqual([null]);
    expect(statSync(sock).mode & 0o777).toBe(0o600);
  });

  it('answers 429 with Retry-After once a source has spent its reviews, and asks nothing more', async () => {
    // A known token: reviewed once, its answer kept.
    expect((await post(sock, 'token-a')).status).toBe(403);
    const forged = await Promise.all(['f1', 'f2', 'f3', 'f4', 'f5'].map((t) => post(sock, t)));
    expect(forged.map((r) => r.status).sort()).toEqual([401, 401, 429, 429, 429]);
    const limited = forged.find((r) => r.status === 429)!;
    expect(limited.retryAfter).toBe('1');
    expect(JSON.parse(limited.body).error).toMatch(/too many token reviews from unix socket/);
    expect(reviews()).toBe(3);
    // The node whose answer is known is not held up by the flood.
    expect((await post(sock, 'token-a')).status).toBe(403);
    expect(reviews()).toBe(3);
  });
});
