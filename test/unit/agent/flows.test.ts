// The flow log is bounded by bytes and entries, and `since` still returns
// exactly the flows numbered above what a watcher saw, across wrap-around.
import { describe, expect, it } from 'vitest';
import { emptyPolicy } from '../../../agent/src/compile/policy.ts';
import { type AccessEntry, AccessLog } from '../../../agent/src/telemetry/access-log.ts';
import { Connection } from '../../../agent/src/telemetry/connection.ts';
import { FLOW_LOG_BYTES, FLOW_LOG_ENTRIES, FlowLog } from '../../../agent/src/telemetry/flows.ts';
import { DirectionStats } from '../../../agent/src/telemetry/stats.ts';

const entry = (authority: string): AccessEntry => ({
  time: Date.now(),
  direction: 'inbound',
  via: 'hbone',
  source: `spiffe://cluster.local/ns/shop/sa/${'s'.repeat(20_000)}`,
  sourceAddress: null,
  destination: authority,
  destinationWorkload: null,
  bytesFromClient: 0,
  bytesToClient: 0,
  result: 'refused',
  detail: `unknown target ${authority}`,
  audit: 'a'.repeat(20_000),
});

describe('FlowLog', () => {
  it('stays under its byte bound when peers send huge fields', () => {
    const flows = new FlowLog('node-1', () => emptyPolicy);
    for (let i = 0; i < 300; i++) flows.fromProxy(entry(`${'h'.repeat(60_000)}${i}:80`));
    expect(JSON.stringify(flows.since(0)).length).toBeLessThanOrEqual(FLOW_LOG_BYTES);
    expect(flows.bytes).toBeLessThanOrEqual(FLOW_LOG_BYTES);
  });

  it('answers since(seq) with the newer flows only, after the ring wrapped', () => {
    const flows = new FlowLog('node-1', () => emptyPolicy);
    const n = FLOW_LOG_ENTRIES + 123;
    for (let i = 0; i < n; i++)
      flows.fromProxy({ ...entry(`10.0.0.1:${i}`), source: null, audit: undefined });
    const all = flows.since(0);
    expect(all).toHaveLength(FLOW_LOG_ENTRIES);
    expect(all[0]!.seq).toBe(n - FLOW_LOG_ENTRIES + 1);
    expect(flows.since(n - 3).map((f) => f.seq)).toEqual([n - 2, n - 1, n]);
    expect(flows.since(n)).toEqual([]);
    expect(flows.since(5)).toHaveLength(FLOW_LOG_ENTRIES);
  });

  it('records a carried connection when it opens and when it ends, a refused one once', () => {
    const flows = new FlowLog('node-1', () => emptyPolicy);
    const log = new AccessLog();
    log.onEntry = (e) => flows.fromProxy(e);
    const sinks = { stats: new DirectionStats(), log, observer: flows, registry: null };
    const id = 'spiffe://cluster.local/ns/shop/sa/client';
    const carried = new Connection(
      sinks,
      'inbound',
      'hbone',
      id,
      null,
      '10.0.0.2:8080',
      'shop/server',
    );
    carried.joined(() => {});
    expect(flows.since(0).map((f) => [f.event, f.reason])).toEqual([['open', 'opened']]);
    carried.end(false, { fromClient: 10, toClient: 20 });
    const refused = new Connection(
      sinks,
      'inbound',
      'hbone',
      id,
      null,
      '10.0.0.2:9090',
      'shop/server',
    );
    refused.refuse('denied by shop/deny');
    expect(flows.since(0).map((f) => `${f.event} ${f.destination}:${f.port} ${f.verdict}`)).toEqual(
      ['open shop/server:8080 allow', 'end shop/server:8080 allow', 'end shop/server:9090 deny'],
    );
    expect(flows.since(0)[0]).toMatchObject({ identity: id, where: 'proxy inbound (hbone)' });
  });
});
