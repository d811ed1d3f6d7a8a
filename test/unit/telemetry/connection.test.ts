// The connection record writes each connection's counters, access log entry and
// TCP metrics exactly once, whatever the proxy tells it; the registry holds the
// carried ones by admitting workload and resets those a judge says are denied.

import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { emptyPolicy } from '../../../agent/src/tables/policy.ts';
import { AccessLog } from '../../../agent/src/telemetry/access-log.ts';
import {
  type ByteCounts,
  Connection,
  type ConnectionObserver,
  ConnectionRegistry,
} from '../../../agent/src/telemetry/connection.ts';
import { IstioMetrics } from '../../../agent/src/telemetry/istio.ts';
import { DirectionStats } from '../../../agent/src/telemetry/stats.ts';

function rig() {
  const seen: string[] = [];
  const observer: ConnectionObserver = {
    opened: (c) => seen.push(`opened ${c.destination}`),
    closed: (c, n: ByteCounts) =>
      seen.push(`closed ${c.destination} ${n.fromClient}/${n.toClient}`),
  };
  const sinks = {
    stats: new DirectionStats(),
    log: new AccessLog(),
    observer,
    registry: new ConnectionRegistry(),
  };
  const conn = (dst = '10.0.0.2:80', workload = 'shop/a') => {
    const c = new Connection(
      sinks,
      'inbound',
      'hbone',
      'spiffe://x/ns/shop/sa/b',
      '10.0.0.1',
      dst,
      workload,
    );
    c.admission = { workload, peerIp: '10.0.0.1', port: 80, l7: false };
    return c;
  };
  return { sinks, seen, conn };
}

describe('Connection', () => {
  it('a refused connection is counted and logged once, however often it is refused', () => {
    const { sinks, seen, conn } = rig();
    const c = conn();
    c.refuse('denied by ingress NetworkPolicy (shop/p): no rule', 'policy');
    c.refuse('again');
    c.end(true, { fromClient: 1, toClient: 1 });
    expect(sinks.stats).toMatchObject({ accepted: 1, failed: 1, active: 0, reset: 0 });
    const log = sinks.log.entries();
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ result: 'refused', responseFlags: 'policy' });
    expect(typeof log[0]!.time).toBe('number');
    expect(seen).toEqual(['opened 10.0.0.2:80', 'closed 10.0.0.2:80 0/0']);
  });

  it('a carried connection ends once, with its bytes, and leaves the registry', () => {
    const { sinks, seen, conn } = rig();
    const c = conn();
    c.joined(() => {});
    expect(sinks.registry.size).toBe(1);
    expect(sinks.stats.active).toBe(1);
    c.end(false, { fromClient: 10, toClient: 20 });
    c.end(true, { fromClient: 99, toClient: 99 });
    c.refuse('late');
    expect(sinks.stats).toMatchObject({
      accepted: 1,
      active: 0,
      failed: 0,
      reset: 0,
      bytesFromClient: 10,
      bytesToClient: 20,
    });
    expect(sinks.registry.size).toBe(0);
    expect(sinks.log.entries().map((e) => e.result)).toEqual(['ok']);
    expect(seen).toEqual(['opened 10.0.0.2:80', 'closed 10.0.0.2:80 10/20']);
  });

  it('a connection moved to the next agent stops counting here, unlogged, and its end is ignored', () => {
    const { sinks, conn } = rig();
    const c = conn();
    c.joined(() => {});
    c.movedAway();
    c.end(true, { fromClient: 5, toClient: 5 });
    expect(sinks.stats).toMatchObject({ accepted: 1, active: 0, reset: 0, bytesFromClient: 0 });
    expect(sinks.registry.size).toBe(0);
    expect(sinks.log.entries()).toHaveLength(0);
  });

  it('the registry resets only what the judge denies, each once, and counts them', () => {
    const { sinks, conn } = rig();
    const aborted: string[] = [];
    const a = conn('10.0.0.2:80', 'shop/a');
    const b = conn('10.0.0.3:80', 'shop/b');
    for (const c of [a, b]) c.joined(() => aborted.push(c.destination));
    const n = sinks.registry.sweep((_c, adm) => (adm.workload === 'shop/b' ? 'denied' : null));
    expect(n).toBe(1);
    expect(aborted).toEqual(['10.0.0.3:80']);
    b.revoke('again'); // already being reset
    expect(aborted).toEqual(['10.0.0.3:80']);
    b.end(true, { fromClient: 1, toClient: 0 });
    expect(sinks.registry.revoked).toBe(1);
    expect(sinks.registry.of('shop/a')).toEqual([a]);
    expect(sinks.log.entries()[0]).toMatchObject({
      result: 'reset',
      responseFlags: 'revoked',
      detail: 'closed: denied',
    });
  });

  it('resetAll resets every carried connection once (a drain past its grace period), not counted as revoked', () => {
    const { sinks, conn } = rig();
    const aborted: string[] = [];
    const a = conn('10.0.0.2:80', 'shop/a');
    const b = conn('10.0.0.3:80', 'shop/b');
    for (const c of [a, b]) c.joined(() => aborted.push(c.destination));
    expect(sinks.registry.resetAll('the drain grace period is over')).toBe(2);
    expect(aborted).toEqual(['10.0.0.2:80', '10.0.0.3:80']);
    for (const c of [a, b]) c.end(true, { fromClient: 1, toClient: 0 });
    expect(sinks.registry.size).toBe(0);
    expect(sinks.registry.revoked).toBe(0);
    expect(sinks.registry.resetAll('again')).toBe(0);
  });
});

describe('IstioMetrics', () => {
  it('folds label sets past its bound into one overflow set, and counts them', async () => {
    const registry = new Registry();
    const pods = new Map(
      [0, 1, 2, 3, 4].map((i) => [
        `ns/w${i}`,
        {
          namespace: 'ns',
          name: `w${i}`,
          labels: { app: `w${i}` },
          annotations: {},
          serviceAccountName: 'default',
          nodeName: 'n',
          ports: [],
          podIP: `10.0.0.${i}`,
        },
      ]),
    );
    const tables = { ...emptyPolicy, pods };
    const m = new IstioMetrics(registry, { tables: () => tables, maxTcpSeries: 2 });
    const { sinks } = rig();
    for (let i = 0; i < 5; i++) {
      const c = new Connection(
        { ...sinks, observer: m },
        'outbound',
        'plaintext',
        null,
        null,
        'x',
        `ns/w${i}`,
      );
      c.joined(() => {});
      c.end(false, { fromClient: 1, toClient: 2 });
    }
    const text = await registry.metrics();
    const opened = text
      .split('\n')
      .filter((l) => l.startsWith('istio_tcp_connections_opened_total{'));
    expect(opened).toHaveLength(3);
    expect(opened.filter((l) => l.includes('destination_workload="overflow"'))).toHaveLength(1);
    expect(opened.find((l) => l.includes('overflow'))).toMatch(/ 3$/);
    expect(text).toContain('weft_metrics_series_overflow_total{family="tcp"} 3');
    // Workloads and pods never become label values of addresses.
    expect(text).not.toMatch(/10\.0\.0\./);
  });
});
