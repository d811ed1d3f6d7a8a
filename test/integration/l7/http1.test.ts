// The L7 engine on the client's node proxy, HTTP/1.1: a VIP port with routes is
// read per request; each request is matched, filtered, split by weight and sent
// over pooled upstream connections: plaintext to a pod outside the mesh, HBONE
// (mutual TLS) to mesh pods elsewhere, the in-process hand-off on this node.
// Modelled on the Gateway API mesh conformance tests (matching, weights, header
// modifiers, redirect, rewrite, 500/503), against echo pods that report what
// they received.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { L7_LIMITS } from '../../../agent/src/l7/limits.ts';
import type { CompiledRule } from '../../../agent/src/tables/routes.ts';
import { KeptAlive } from '../../support/http-client.ts';
import { type L7Mesh, l7Mesh, PORTS } from '../../support/l7-mesh.ts';
import { describePrivileged } from '../../support/privileged.ts';
import { headerFilter, portRoutes, rule } from '../../support/routes.ts';
import { until } from '../../support/until.ts';

describePrivileged('L7 engine: HTTP/1.1 routes through the outbound proxy', () => {
  let m: L7Mesh;
  let client: KeptAlive;
  const be = (name: string, weight = 1, port = PORTS.http) => ({
    service: `shop/${name}`,
    weight,
    endpoints: [m.pods[name]!.ep(port)],
  });
  const routes = (rules: CompiledRule[], consumers: Record<string, CompiledRule[]> = {}) => {
    const vip80 = `${m.vip}:80`;
    m.setTables(
      {
        [vip80]: { service: 'shop/echo', endpoints: [m.pods.plain!.ep(PORTS.http)] },
        [`${m.vip.replace(/\d+$/, '101')}:80`]: {
          service: 'shop/mirror',
          endpoints: [m.pods.mirror!.ep(PORTS.http)],
        },
      },
      {
        byVip: new Map([[vip80, portRoutes('shop/echo', 80, rules, 'http', consumers)]]),
        inboundProtocol: new Map(),
      },
    );
  };

  beforeAll(async () => {
    m = await l7Mesh(87);
    client = new KeptAlive(await m.address(80));
  }, 30_000);
  afterAll(async () => {
    client?.close();
    await m?.close();
  });

  it('splits 500 requests of one kept-alive connection by weight (±5%), over pooled upstream connections', async () => {
    routes([rule({ backends: [be('plain', 50), be('remote', 30), be('local', 20)] })]);
    const accepted = m.stats.accepted;
    const conns = Object.fromEntries(
      ['plain', 'remote', 'local'].map((p) => [p, m.pods[p]!.echo.connections.http]),
    );
    const hits: Record<string, number> = {};
    for (let i = 0; i < 500; i++) {
      const a = await client.send(`/w/${i}`);
      expect(a.status).toBe(200);
      hits[a.json.pod] = (hits[a.json.pod] ?? 0) + 1;
    }
    // One client connection reached the proxy.
    expect(m.stats.accepted - accepted).toBe(1);
    expect(Math.abs((hits['shop/plain'] ?? 0) - 250)).toBeLessThanOrEqual(25);
    expect(Math.abs((hits['shop/remote'] ?? 0) - 150)).toBeLessThanOrEqual(25);
    expect(Math.abs((hits['shop/local'] ?? 0) - 100)).toBeLessThanOrEqual(25);
    // Sequential requests reuse one upstream connection per endpoint (HBONE: one CONNECT stream).
    for (const p of ['plain', 'remote', 'local'])
      expect(m.pods[p]!.echo.connections.http - conns[p]!).toBe(1);
    expect(m.hbone.size()).toBe(1);
    // Each request was reported, with its route and pod.
    const last = m.records.at(-1)!;
    expect(last).toMatchObject({
      reporter: 'source',
      protocol: 'http',
      method: 'GET',
      path: '/w/499',
      status: 200,
      responseFlags: '',
      route: 'HTTPRoute shop/route rule 0',
    });
    // Mutual TLS, with both principals, unless the endpoint was reached in plaintext.
    const tls = last.destinationPod !== 'shop/plain';
    expect(last.mtls).toBe(tls);
    expect(last.sourcePrincipal).toBe(tls ? 'spiffe://cluster.local/ns/shop/sa/client' : undefined);
    expect(last.destinationPrincipal).toBe(
      tls ? 'spiffe://cluster.local/ns/shop/sa/server' : undefined,
    );
    const plain = m.records.find((r) => r.destinationPod === 'shop/plain');
    expect(plain).toMatchObject({ mtls: false, sourcePod: 'shop/client' });
    expect(plain?.destinationPrincipal).toBeUndefined();
  });

  it('matches path (Exact, PathPrefix, RegularExpression), headers, query and method in precedence order', async () => {
    routes([
      rule({ rule: 0, pathType: 'Exact', path: '/exact', backends: [be('plain')] }),
      rule({ rule: 1, path: '/v2', headers: { version: 'two' }, backends: [be('remote')] }),
      rule({ rule: 2, path: '/', query: { canary: /^(yes|true)$/ }, backends: [be('local')] }),
      rule({ rule: 3, path: '/', method: 'POST', backends: [be('remote2')] }),
      rule({
        rule: 4,
        pathType: 'RegularExpression',
        path: '/re/[0-9]+',
        backends: [be('remote')],
      }),
      rule({ rule: 5, path: '/prefix', backends: [be('local')] }),
    ]);
    const pod = async (path: string, o = {}) => {
      const a = await client.send(path, o);
      return a.status === 200 ? a.json.pod : a.status;
    };
    expect(await pod('/exact')).toBe('shop/plain');
    expect(await pod('/exact/more')).toBe(404);
    expect(await pod('/v2/x', { headers: { version: 'two' } })).toBe('shop/remote');
    expect(await pod('/v2/x', { headers: { version: 'one' } })).toBe(404);
    expect(await pod('/any?canary=true')).toBe('shop/local');
    expect(await pod('/any?canary=no')).toBe(404);
    expect(await pod('/any', { method: 'POST', body: 'x' })).toBe('shop/remote2');
    expect(await pod('/re/123')).toBe('shop/remote');
    expect(await pod('/re/abc')).toBe(404);
    expect(await pod('/prefix')).toBe('shop/local');
    expect(await pod('/prefix/a/b')).toBe('shop/local');
    // PathPrefix matches whole segments.
    expect(await pod('/prefixed')).toBe(404);
    expect(m.records.at(-1)).toMatchObject({ status: 404, responseFlags: 'no_route' });
  });

  it('gives a consumer namespace its own routes', async () => {
    routes([rule({ backends: [be('plain')] })], { shop: [rule({ backends: [be('local')] })] });
    expect((await client.send('/c')).json.pod).toBe('shop/local');
  });

  it('modifies request and response headers', async () => {
    routes([
      rule({
        filters: [
          headerFilter('RequestHeaderModifier', {
            set: { 'x-set': 'one' },
            add: { 'x-add': 'two' },
            remove: ['x-remove'],
          }),
          headerFilter('ResponseHeaderModifier', { set: { 'x-resp': 'r' }, remove: ['x-drop-me'] }),
        ],
        backends: [be('remote')],
      }),
    ]);
    const a = await client.send('/h', {
      headers: { 'x-set': 'old', 'x-add': 'first', 'x-remove': 'gone', 'x-keep': 'k' },
    });
    expect(a.json.headers).toMatchObject({ 'x-set': 'one', 'x-add': 'first,two', 'x-keep': 'k' });
    expect(a.json.headers['x-remove']).toBeUndefined();
    expect(a.headers['x-resp']).toBe('r');
    expect(a.headers['x-drop-me']).toBeUndefined();
    expect(a.headers['x-echo-pod']).toBe('shop/remote');
  });

  it('redirects, and rewrites the path (full, prefix) and host', async () => {
    routes([
      rule({
        rule: 0,
        path: '/old',
        filters: [
          {
            type: 'RequestRedirect',
            hostname: 'new.example',
            path: { type: 'ReplacePrefixMatch', value: '/new' },
            statusCode: 302,
          },
        ],
      }),
      rule({
        rule: 1,
        path: '/api',
        filters: [
          {
            type: 'URLRewrite',
            hostname: 'rewritten.shop',
            path: { type: 'ReplacePrefixMatch', value: '/v1' },
          },
        ],
        backends: [be('local')],
      }),
      rule({
        rule: 2,
        path: '/full',
        filters: [{ type: 'URLRewrite', path: { type: 'ReplaceFullPath', value: '/replaced' } }],
        backends: [be('remote')],
      }),
      rule({
        rule: 3,
        path: '/secure',
        filters: [{ type: 'RequestRedirect', scheme: 'https', statusCode: 301 }],
      }),
    ]);
    const r = await client.send('/old/page?q=1');
    expect(r.status).toBe(302);
    expect(r.headers.location).toBe('http://new.example/new/page?q=1');
    const s = await client.send('/secure/x');
    expect(s.status).toBe(301);
    expect(s.headers.location).toBe('https://echo.shop/secure/x');
    const a = await client.send('/api/items?x=1');
    expect(a.json).toMatchObject({ pod: 'shop/local', path: '/v1/items?x=1' });
    expect(a.json.headers.host).toBe('rewritten.shop');
    const f = await client.send('/full/anything');
    expect(f.json).toMatchObject({ pod: 'shop/remote', path: '/replaced' });
  });

  it('answers 500 for a rule without backends and 503 without an endpoint, the connection kept', async () => {
    const accepted = m.stats.accepted;
    routes([
      rule({ rule: 0, path: '/none' }),
      rule({ rule: 1, path: '/empty', backends: [{ service: 'shop/empty', endpoints: [] }] }),
      rule({
        rule: 2,
        path: '/down',
        backends: [
          { service: 'shop/down', endpoints: [{ ...m.pods.plain!.ep(1), pod: 'shop/plain' }] },
        ],
      }),
      rule({ rule: 3, path: '/', backends: [be('plain')] }),
    ]);
    expect((await client.send('/none')).status).toBe(500);
    expect((await client.send('/empty')).status).toBe(503);
    expect((await client.send('/down')).status).toBe(503);
    expect((await client.send('/ok')).json.pod).toBe('shop/plain');
    expect(m.stats.accepted).toBe(accepted);
  });

  it('answers 504 at timeouts.request, cancels the upstream request and serves the next', async () => {
    routes([rule({ timeouts: { request: 300 }, backends: [be('remote')] })]);
    const a = await client.send('/slow');
    expect(a.status).toBe(504);
    expect(m.records.at(-1)).toMatchObject({ status: 504, responseFlags: 'timeout' });
    expect((await client.send('/fast')).json.pod).toBe('shop/remote');
  });

  it("keeps an idle client connection past Node's 6 s keep-alive, so no close races the app's next request", async () => {
    routes([rule({ backends: [be('plain')] })]);
    expect((await client.send('/before')).status).toBe(200);
    const accepted = m.stats.accepted;
    await new Promise((r) => setTimeout(r, 7_000));
    expect((await client.send('/after')).status).toBe(200);
    // The same connection carried both: the proxy accepted no other.
    expect(m.stats.accepted).toBe(accepted);
  }, 15_000);

  it('passes bodies, chunked trailers and upstream statuses through', async () => {
    routes([rule({ backends: [be('remote')] })]);
    const body = 'x'.repeat(200_000);
    const a = await client.send('/post', { method: 'POST', body });
    expect(a.json.bodyBytes).toBe(body.length);
    const t = await client.send('/trailers');
    expect(t.trailers['x-checksum']).toBe('abc');
    expect((await client.send('/status/418')).status).toBe(418);
  });

  it('mirrors requests to another Service and ignores its answers', async () => {
    routes([
      rule({
        filters: [
          {
            type: 'RequestMirror',
            backend: { namespace: 'shop', name: 'mirror', port: 80 },
            percent: 100,
          },
        ],
        backends: [be('plain')],
      }),
    ]);
    const a = await client.send('/mirrored/1');
    expect(a.json.pod).toBe('shop/plain');
    await until('the mirrored copy', () => m.pods.mirror!.echo.seen.includes('/mirrored/1')).catch(
      () => {},
    );
    expect(m.pods.mirror!.echo.seen).toContain('/mirrored/1');
  });

  it('balances a port read as HTTP but without routes per request over its endpoints (ROUND_ROBIN)', async () => {
    const vip80 = `${m.vip}:80`;
    m.setTables(
      {
        [vip80]: {
          service: 'shop/echo',
          endpoints: [
            m.pods.plain!.ep(PORTS.http),
            m.pods.remote!.ep(PORTS.http),
            m.pods.local!.ep(PORTS.http),
          ],
        },
      },
      {
        byVip: new Map([[vip80, portRoutes('shop/echo', 80, [])]]),
        inboundProtocol: new Map(),
        trafficPolicies: new Map([
          ['shop/echo:80', { from: 'DestinationRule shop/echo', lb: 'ROUND_ROBIN' as const }],
        ]),
      },
    );
    const pods: string[] = [];
    for (let i = 0; i < 6; i++) pods.push((await client.send('/rr')).json.pod);
    expect(pods.filter((p) => p === 'shop/plain')).toHaveLength(2);
    expect(pods.filter((p) => p === 'shop/remote')).toHaveLength(2);
    expect(pods.filter((p) => p === 'shop/local')).toHaveLength(2);
  });

  it('contains a bug in one request: its connection goes, the agent and other connections stay', async () => {
    const broken = rule({ pathType: 'RegularExpression', path: '/x', backends: [be('plain')] });
    // A table the compiler would never make: a regular expression path without its RegExp.
    const bad = { ...broken, match: { ...broken.match, pathRegex: undefined } };
    routes([bad as CompiledRule]);
    const other = new KeptAlive(await m.address(80));
    const errors = m.engine.errors;
    await expect(other.send('/x')).rejects.toThrow();
    expect(m.engine.errors).toBe(errors + 1);
    other.close();
    routes([rule({ backends: [be('local')] })]);
    expect((await client.send('/after')).json.pod).toBe('shop/local');
  });

  it('answers 503 when the wait queue of an endpoint is full, and recovers', async () => {
    routes([rule({ backends: [be('remote')] })]);
    const was = L7_LIMITS.queuedPerEndpoint;
    L7_LIMITS.queuedPerEndpoint = 0;
    try {
      expect((await client.send('/q')).status).toBe(503);
      expect(m.records.at(-1)).toMatchObject({ status: 503, responseFlags: 'overflow' });
    } finally {
      L7_LIMITS.queuedPerEndpoint = was;
    }
    expect((await client.send('/q')).status).toBe(200);
  });
});
