// The inbound pipeline (admit.ts) every way in shares: policy decides, AUDIT matches
// are handed on whatever the verdict, HTTP rules send the connection to the L7 path.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../../agent/src/compile/policy.ts';
import { InboundL7 } from '../../../agent/src/l7/inbound.ts';
import { admitInbound, type InboundEnds } from '../../../agent/src/proxy/admit.ts';
import { SocketPool } from '../../../agent/src/proxy/socket-pool.ts';
import type { AuthorizationPolicy } from '../../../agent/src/state/authz-types.ts';
import type { Snapshot } from '../../../agent/src/state/types.ts';
import { AccessLog } from '../../../agent/src/telemetry/access-log.ts';
import { Connection } from '../../../agent/src/telemetry/connection.ts';
import { DirectionStats } from '../../../agent/src/telemetry/stats.ts';
import { pod, snapshot } from '../compile/fixtures.ts';
import { ap } from '../policy/authz-fixtures.ts';

const web = pod('shop', 'web', { labels: { app: 'web' }, podIP: '10.0.0.7' });

function tables(policies: AuthorizationPolicy[]) {
  const snap: Snapshot = {
    ...snapshot({ namespaces: [{ name: 'shop', labels: {} }], pods: [web] }),
    authorizationPolicies: new Map(policies.map((p) => [`${p.namespace}/${p.name}`, p])),
  };
  return compilePolicy(snap, 'cluster.local', 'weft-system');
}

/** Records which end the pipeline chose, and with what. */
function ends(client = new PassThrough()) {
  const seen: { end: string; detail?: string; status?: number; audit?: string }[] = [];
  const e: InboundEnds = {
    refuse: (detail, status, audit) => {
      seen.push({ end: 'refuse', detail, status, ...(audit ? { audit } : {}) });
    },
    http: (audit) => {
      seen.push({ end: 'http', ...(audit ? { audit } : {}) });
      return {
        conn: new Connection(
          { stats: new DirectionStats(), log: new AccessLog(), observer: null, registry: null },
          'inbound',
          'plaintext',
          null,
          '10.0.1.5',
          '10.0.0.7:8080',
          'shop/web',
        ),
        client,
      };
    },
    join: (app, audit) => {
      app.destroy();
      seen.push({ end: 'join', ...(audit ? { audit } : {}) });
    },
  };
  return { e, seen, client };
}

const connection = (policy: ReturnType<typeof tables>) => ({
  policy,
  workloadKey: 'shop/web',
  netnsPath: '/nonexistent/netns',
  pool: new SocketPool(),
  inboundL7: new InboundL7(),
  src: { ip: '10.0.1.5' },
  ip: '10.0.0.7',
  port: 8080,
});

describe('admitInbound', () => {
  it('refuses with 403 what AuthorizationPolicy denies, handing on the AUDIT match', () => {
    const { e, seen } = ends();
    admitInbound(
      connection(
        tables([
          ap('shop', 'no', { action: 'DENY', rules: [{}] }),
          ap('shop', 'watch', { action: 'AUDIT', rules: [{}] }),
        ]),
      ),
      e,
    );
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ end: 'refuse', status: 403, audit: 'shop/watch rule 0' });
    expect(seen[0]?.detail).toContain('shop/no');
  });

  it('sends a connection an HTTP rule applies to down the L7 path, not to the app', () => {
    const { e, seen, client } = ends();
    admitInbound(
      connection(
        tables([ap('shop', 'get', { rules: [{ to: [{ operation: { methods: ['GET'] } }] }] })]),
      ),
      e,
    );
    client.destroy();
    expect(seen).toEqual([{ end: 'http' }]);
  });
});
