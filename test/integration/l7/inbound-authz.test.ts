// The destination's HTTP authorization for HTTP/2 and gRPC: a port whose
// AuthorizationPolicy has HTTP rules authorizes each stream of an HTTP/2
// connection (prior knowledge, as the L7 engine's pooled sessions speak it),
// PERMISSION_DENIED / 403 on denial with the session kept, across nodes (HBONE)
// and on one node (hand-off); HTTP/1.1 keeps its own path.
import type { ClientHttp2Session } from 'node:http2';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AuthorizationPolicy } from '../../../agent/src/state/authz-types.ts';
import { grpcCall, h2Request, h2Session } from '../../support/h2-client.ts';
import { KeptAlive } from '../../support/http-client.ts';
import { type L7Mesh, l7Mesh, PORTS } from '../../support/l7-mesh.ts';
import { describePrivileged } from '../../support/privileged.ts';
import { portRoutes, rule } from '../../support/routes.ts';

const op = (methods: string[], paths: string[]) => ({
  ports: [],
  notPorts: [],
  methods,
  notMethods: [],
  paths,
  notPaths: [],
  hosts: [],
  notHosts: [],
});

const allowSay: AuthorizationPolicy = {
  namespace: 'shop',
  name: 'say-only',
  apiVersion: 'security.istio.io/v1',
  action: 'ALLOW',
  rules: [{ to: [op(['POST'], ['/echo.Echo/Say']), op(['GET'], ['/allowed'])] }],
};

describePrivileged('L7 engine: inbound HTTP/2 and gRPC authorization per request', () => {
  let m: L7Mesh;
  let session: ClientHttp2Session;

  beforeAll(async () => {
    m = await l7Mesh(89);
    const vip = `${m.vip}:90`;
    const vip80 = `${m.vip}:80`;
    const be = (name: string, port: number) => ({
      service: `shop/${name}`,
      endpoints: [m.pods[name]!.ep(port)],
    });
    m.setTables(
      {},
      {
        byVip: new Map([
          [
            vip,
            portRoutes('shop/echo', 90, [
              rule({ rule: 0, path: '/remote/', backends: [be('remote', PORTS.h2)] }),
              rule({
                rule: 2,
                pathType: 'Exact',
                path: '/allowed',
                backends: [be('remote', PORTS.h2)],
              }),
              rule({ rule: 1, path: '/', backends: [be('local', PORTS.h2)] }),
            ]),
          ],
          [vip80, portRoutes('shop/echo', 80, [rule({ backends: [be('remote', PORTS.http)] })])],
        ]),
        inboundProtocol: new Map(),
      },
    );
    await m.setAuthorization([allowSay]);
    session = h2Session(await m.address(90));
  }, 30_000);
  afterAll(async () => {
    session?.destroy();
    await m?.close();
  });

  it('authorizes each gRPC call on one connection, across nodes and on one node', async () => {
    // Rule 1 (prefix /) sends the gRPC paths to the pod on this node.
    const ok = await grpcCall(session, '/echo.Echo/Say', ['hi']);
    expect(ok.status).toBe('0');
    expect(ok.messages).toEqual(['shop/local:hi:0']);
    const denied = await grpcCall(session, '/echo.Echo/Stream', ['hi']);
    expect(denied.status).toBe('7');
    expect(denied.messages).toEqual([]);
    expect((await grpcCall(session, '/echo.Echo/Say', ['again'])).messages).toEqual([
      'shop/local:again:0',
    ]);
  });

  it('authorizes each HTTP/2 request to a pod on another node', async () => {
    const denied = await h2Request(session, { ':path': '/remote/secret' });
    expect(denied.headers[':status']).toBe(403);
    // The routed path reaches the pod unchanged; the policy allows GET /allowed only.
    const ok = await h2Request(session, { ':path': '/allowed' });
    expect(ok.headers[':status']).toBe(200);
    expect(JSON.parse(ok.body.toString()).pod).toBe('shop/remote');
  });

  it('keeps HTTP/1.1 on its own per-request path', async () => {
    const c = new KeptAlive(await m.address(80));
    const a = await c.send('/allowed');
    expect(`${a.status} ${a.body}`).toMatch(/^200 /);
    expect((await c.send('/other')).status).toBe(403);
    c.close();
  });
});
