// Revocation (revoke.ts) judges a carried connection again by lookup in the new
// decision tables, as it was admitted. The tables here disagree with the policy
// tables the evaluators read, so whichever decides shows.
import { describe, expect, it } from 'vitest';
import { compileDecisions } from '../../../agent/src/compile/decisions.ts';
import { compilePolicy } from '../../../agent/src/compile/policy.ts';
import { noLongerAllowed } from '../../../agent/src/proxy/revoke.ts';
import type { AuthorizationPolicy } from '../../../agent/src/state/authz-types.ts';
import type { NetworkPolicy } from '../../../agent/src/state/netpol-types.ts';
import type { Snapshot } from '../../../agent/src/state/types.ts';
import { AccessLog } from '../../../agent/src/telemetry/access-log.ts';
import { Connection } from '../../../agent/src/telemetry/connection.ts';
import { DirectionStats } from '../../../agent/src/telemetry/stats.ts';
import { pod, snapshot } from '../compile/fixtures.ts';
import { ap } from '../policy/authz-fixtures.ts';

const client = pod('shop', 'client', { podIP: '10.0.0.5', serviceAccountName: 'client' });
const web = pod('shop', 'web', { labels: { app: 'web' }, podIP: '10.0.0.7' });
const CLIENT_ID = 'spiffe://cluster.local/ns/shop/sa/client';

function policyOf(o: { netpols?: NetworkPolicy[]; authz?: AuthorizationPolicy[] } = {}) {
  const snap: Snapshot = {
    ...snapshot({ namespaces: [{ name: 'shop', labels: {} }], pods: [client, web] }),
    networkPolicies: new Map((o.netpols ?? []).map((p) => [`${p.namespace}/${p.name}`, p])),
    authorizationPolicies: new Map((o.authz ?? []).map((p) => [`${p.namespace}/${p.name}`, p])),
  };
  return compilePolicy(snap, 'cluster.local', 'weft-system');
}

/** The evaluators read no policy at all; the decision tables are compiled from `decided`. */
const tablesOf = (decided: Parameters<typeof policyOf>[0]) => ({
  policy: policyOf(),
  decisions: compileDecisions(policyOf(decided), new Map(), ['shop/client', 'shop/web']),
});

const connection = (direction: 'outbound' | 'inbound') =>
  new Connection(
    { stats: new DirectionStats(), log: new AccessLog(), observer: null, registry: null },
    direction,
    'hbone',
    CLIENT_ID,
    '10.0.0.5',
    '10.0.0.7:8080',
    direction === 'outbound' ? 'shop/client' : 'shop/web',
  );

const only = (principal: string) =>
  ap('shop', 'only', { rules: [{ from: [{ source: { principals: [principal] } }] }] });

describe('revocation', () => {
  it("judges the source's side by its egress table", () => {
    const lockdown: NetworkPolicy = {
      namespace: 'shop',
      name: 'lockdown',
      podSelector: {},
      policyTypes: ['Egress'],
      ingress: [],
      egress: [],
    };
    const why = noLongerAllowed(tablesOf({ netpols: [lockdown] }), connection('outbound'), {
      workload: 'shop/client',
      peerIp: '10.0.0.7',
      port: 8080,
      l7: false,
    });
    expect(why).toMatch(
      /^revoked by a policy change: denied by egress NetworkPolicy \(shop\/lockdown\)/,
    );
  });

  it("judges the destination's side by its ingress table, with the peer's principal", () => {
    const admitted = {
      workload: 'shop/web',
      peerIp: '10.0.0.5',
      peerIdentity: CLIENT_ID,
      port: 8080,
      l7: false,
    };
    expect(
      noLongerAllowed(
        tablesOf({ authz: [only('cluster.local/ns/shop/sa/other')] }),
        connection('inbound'),
        admitted,
      ),
    ).toMatch(/^revoked by a policy change: denied by AuthorizationPolicy/);
    expect(
      noLongerAllowed(
        tablesOf({ authz: [only('cluster.local/ns/shop/sa/client')] }),
        connection('inbound'),
        admitted,
      ),
    ).toBeNull();
  });

  it('leaves a connection on the L7 path to its per-request checks when the port is now read as TCP', () => {
    expect(
      noLongerAllowed(
        tablesOf({ authz: [only('cluster.local/ns/shop/sa/other')] }),
        connection('inbound'),
        { workload: 'shop/web', peerIp: '10.0.0.5', peerIdentity: CLIENT_ID, port: 8080, l7: true },
      ),
    ).toBeNull();
  });
});
