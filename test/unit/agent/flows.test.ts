// The flow log is bounded by bytes and entries, and `since` still returns
// exactly the flows numbered above what a watcher saw, across wrap-around.
import { describe, expect, it } from 'vitest';
import { emptyPolicy } from '../../../agent/src/compile/policy.ts';
import type { AccessEntry } from '../../../agent/src/telemetry/access-log.ts';
import { FLOW_LOG_BYTES, FLOW_LOG_ENTRIES, FlowLog } from '../../../agent/src/telemetry/flows.ts';

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
});
