// The same-node hand-off of the L7 engine's upstream connections: the
// destination's AuthorizationPolicy is looked up in its compiled decision table
// with the client's identity parsed once (principal and namespace), so a policy
// naming principals and HTTP methods decides each request of the hand-off as it
// does across nodes.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AuthorizationPolicy } from '../../../agent/src/state/authz-types.ts';
import { KeptAlive } from '../../support/http-client.ts';
import { type L7Mesh, l7Mesh, PORTS } from '../../support/l7-mesh.ts';
import { describePrivileged } from '../../support/privileged.ts';
import { portRoutes, rule } from '../../support/routes.ts';

const rule0 = (principal: string, path: string) => ({
  from: [
    {
      principals: [principal],
      notPrincipals: [],
      namespaces: [],
      notNamespaces: [],
      ipBlocks: [],
      notIpBlocks: [],
    },
  ],
  to: [
    {
      ports: [],
      notPorts: [],
      methods: ['GET'],
      notMethods: [],
      paths: [path],
      notPaths: [],
      hosts: [],
      notHosts: [],
    },
  ],
});

/** GET /mine/* for the client's principal, GET /theirs/* for another one. */
const policy: AuthorizationPolicy = {
  namespace: 'shop',
  name: 'get-by-principal',
  apiVersion: 'security.istio.io/v1',
  action: 'ALLOW',
  rules: [
    rule0('cluster.local/ns/shop/sa/client', '/mine/*'),
    rule0('cluster.local/ns/shop/sa/someone-else', '/theirs/*'),
  ],
};

describePrivileged('L7 engine: the same-node hand-off authorizes by principal and method', () => {
  let m: L7Mesh;
  let client: KeptAlive;

  beforeAll(async () => {
    m = await l7Mesh(86);
    const vip80 = `${m.vip}:80`;
    m.setTables(
      {},
      {
        byVip: new Map([
          [
            vip80,
            portRoutes('shop/echo', 80, [
              rule({
                backends: [{ service: 'shop/local', endpoints: [m.pods.local!.ep(PORTS.http)] }],
              }),
            ]),
          ],
        ]),
        inboundProtocol: new Map(),
      },
    );
    m.setAuthorization([policy]);
    client = new KeptAlive(await m.address(80));
  }, 30_000);
  afterAll(async () => {
    client?.close();
    await m?.close();
  });

  it("passes the allowed principal's GET and answers 403 to another method or principal", async () => {
    const ok = await client.send('/mine/a');
    expect(ok.status).toBe(200);
    expect((ok.json as { pod: string }).pod).toBe('shop/local');
    expect((await client.send('/mine/a', { method: 'POST', body: 'x' })).status).toBe(403);
    expect((await client.send('/mine/a', { method: 'DELETE' })).status).toBe(403);
    expect((await client.send('/theirs/a')).status).toBe(403);
    expect((await client.send('/mine/b')).status).toBe(200);
  });
});
