// The L7 engine's upstream connections (outbound-l7.ts) are decided by lookup in the
// compiled decision tables, as the L4 path's are: the source's egress table, and on
// the same-node hand-off the destination's ingress table. Here the tables disagree
// with the policy tables the evaluators read, so whichever decides shows.
import { describe, expect, it } from 'vitest';
import { compileDecisions } from '../../../agent/src/compile/decisions.ts';
import { compilePolicy } from '../../../agent/src/compile/policy.ts';
import { peerId } from '../../../agent/src/identity/spiffe/spiffe.ts';
import { InboundL7 } from '../../../agent/src/l7/inbound.ts';
import type { L7Engine, L7Source } from '../../../agent/src/l7/index.ts';
import { type OutboundL7Context, serveOutboundL7 } from '../../../agent/src/proxy/outbound-l7.ts';
import { SocketPool } from '../../../agent/src/proxy/socket-pool.ts';
import type { ProxyTables } from '../../../agent/src/proxy/tables.ts';
import type { AuthorizationPolicy } from '../../../agent/src/state/authz-types.ts';
import type { NetworkPolicy } from '../../../agent/src/state/netpol-types.ts';
import type { Snapshot } from '../../../agent/src/state/types.ts';
import type { NodeDecisions } from '../../../agent/src/tables/decisions.ts';
import { emptyRoutes } from '../../../agent/src/tables/routes.ts';
import { AccessLog } from '../../../agent/src/telemetry/access-log.ts';
import type { ConnectionSinks } from '../../../agent/src/telemetry/connection.ts';
import { DirectionStats } from '../../../agent/src/telemetry/stats.ts';
import { pod, snapshot } from '../compile/fixtures.ts';
import { ap } from '../policy/authz-fixtures.ts';

const CLIENT_ID = 'spiffe://cluster.local/ns/shop/sa/client';
const client = pod('shop', 'client', { podIP: '10.0.0.5', serviceAccountName: 'client' });
const web = pod('shop', 'web', { labels: { app: 'web' }, podIP: '10.0.0.7' });
const WEB = { ip: '10.0.0.7', port: 8080, pod: 'shop/web' };

const egressLockdown: NetworkPolicy = {
  namespace: 'shop',
  name: 'lockdown',
  podSelector: {},
  policyTypes: ['Egress'],
  ingress: [],
  egress: [],
};

function policyOf(o: { netpols?: NetworkPolicy[]; authz?: AuthorizationPolicy[] } = {}) {
  const snap: Snapshot = {
    ...snapshot({ namespaces: [{ name: 'shop', labels: {} }], pods: [client, web] }),
    networkPolicies: new Map((o.netpols ?? []).map((p) => [`${p.namespace}/${p.name}`, p])),
    authorizationPolicies: new Map((o.authz ?? []).map((p) => [`${p.namespace}/${p.name}`, p])),
  };
  return compilePolicy(snap, 'cluster.local', 'weft-system');
}

/** Decision tables compiled from other policies than the ones the evaluators read. */
function tablesOf(evaluated: ReturnType<typeof policyOf>, decided: NodeDecisions): ProxyTables {
  return {
    version: 1,
    services: new Map(),
    peers: new Map([[web.podIP!, { key: 'shop/web', ip: web.podIP!, node: 'n1', identity: '' }]]),
    policy: evaluated,
    decisions: decided,
    routes: emptyRoutes,
  };
}

const decisionsOf = (p: ReturnType<typeof policyOf>) =>
  compileDecisions(p, new Map(), ['shop/client', 'shop/web']);

const sinks = (): ConnectionSinks => ({
  stats: new DirectionStats(),
  log: new AccessLog(),
  observer: null,
  registry: null,
});

/** The engine's view of the source: how it dials an endpoint (the engine itself is not needed). */
function sourceFor(tables: ProxyTables, local: boolean): L7Source {
  let src: L7Source | undefined;
  const engine = { serve: (_c: unknown, s: L7Source) => (src = s) } as unknown as L7Engine;
  const ctx: OutboundL7Context = {
    workloadKey: 'shop/client',
    netnsPath: '/nonexistent/netns',
    podIP: client.podIP!,
    podIPs: [client.podIP!],
    identity: CLIENT_ID,
    peer: peerId(CLIENT_ID),
    sinks: sinks(),
    pool: new SocketPool(),
    hbone: null,
    l7: engine,
    local: (key) =>
      local && key === 'shop/web'
        ? { key, netnsPath: '/nonexistent/netns', sinks: sinks(), inboundL7: new InboundL7() }
        : undefined,
    tables: () => tables,
  };
  serveOutboundL7(ctx, {} as never, '10.96.0.1:80', 80);
  return src!;
}

describe('the L7 outbound path', () => {
  it("takes the egress verdict from the source's table, not the evaluator", () => {
    const t = tablesOf(policyOf(), decisionsOf(policyOf({ netpols: [egressLockdown] })));
    expect(() => sourceFor(t, false).dial(WEB)).toThrow(
      /^denied by egress NetworkPolicy \(shop\/lockdown\)/,
    );
  });

  it("takes the same-node hand-off's verdict from the destination's table", () => {
    const deny = ap('shop', 'no', { action: 'DENY', rules: [{}] });
    const t = tablesOf(policyOf(), decisionsOf(policyOf({ authz: [deny] })));
    expect(() => sourceFor(t, true).dial(WEB)).toThrow(
      /^denied by AuthorizationPolicy \(shop\/no rule 0\)/,
    );
  });

  it("matches the destination's principals against the source's parsed identity", () => {
    const from = (principal: string) =>
      ap('shop', 'only', { rules: [{ from: [{ source: { principals: [principal] } }] }] });
    const denied = tablesOf(
      policyOf(),
      decisionsOf(policyOf({ authz: [from('cluster.local/ns/shop/sa/other')] })),
    );
    expect(() => sourceFor(denied, true).dial(WEB)).toThrow(/^denied by AuthorizationPolicy/);
    // Allowed, the hand-off goes on to dial the app, which has no netns here.
    const allowed = tablesOf(
      policyOf(),
      decisionsOf(policyOf({ authz: [from('cluster.local/ns/shop/sa/client')] })),
    );
    expect(() => sourceFor(allowed, true).dial(WEB)).toThrow(/nonexistent/);
  });
});
