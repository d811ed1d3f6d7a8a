// weft_policy_verdicts_total counts every allowed connection: counted in plain numbers on
// the connection's path and added to the family when scraped, never lost nor added twice.
import { describe, expect, it } from 'vitest';
import { emptyPolicy } from '../../../agent/src/tables/policy.ts';
import { AccessLog } from '../../../agent/src/telemetry/access-log.ts';
import { Connection } from '../../../agent/src/telemetry/connection.ts';
import { AgentMetrics } from '../../../agent/src/telemetry/metrics.ts';
import { DirectionStats } from '../../../agent/src/telemetry/stats.ts';
import { bindBareNode } from '../../support/bare-node.ts';

const allowed = (text: string, direction: string) =>
  Number(
    new RegExp(
      `^weft_policy_verdicts_total\\{direction="${direction}",verdict="allow",stage="",policy=""\\} (\\d+)$`,
      'm',
    ).exec(text)?.[1] ?? 0,
  );

describe('policy verdict metrics', () => {
  it('counts allowed connections per direction across scrapes, and refused ones apart', async () => {
    const metrics = new AgentMetrics({ node: 'n', tables: () => emptyPolicy, runtime: false });
    // weft's own families read a status document when scraped: a node's, without workloads.
    bindBareNode(metrics, 'n');
    const sinks = {
      stats: new DirectionStats(),
      log: new AccessLog(),
      observer: metrics.tcp,
      registry: null,
    };
    const open = (direction: 'inbound' | 'outbound') =>
      new Connection(sinks, direction, 'hbone', null, '10.0.0.1', '10.0.0.2:80', null);
    for (let i = 0; i < 3; i++) open('inbound').joined(() => {});
    open('outbound').joined(() => {});
    open('outbound').refuse('denied by a test', 'policy');
    let text = await metrics.render();
    expect(allowed(text, 'inbound')).toBe(3);
    expect(allowed(text, 'outbound')).toBe(1);
    open('inbound').joined(() => {});
    text = await metrics.render();
    expect(allowed(text, 'inbound')).toBe(4);
    expect(allowed(text, 'outbound')).toBe(1);
    expect(await metrics.render()).toContain('verdict="deny"');
  });
});
