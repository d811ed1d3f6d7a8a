// The handover protocol's messages: anything but a known message is refused with what
// was wrong, and `weft status` says what a handover did in words.
import { describe, expect, it } from 'vitest';
import { parseMessage } from '../../../agent/src/handover/messages.ts';
import { formatLifecycle } from '../../../agent/src/telemetry/lifecycle.ts';

describe('handover messages', () => {
  it('parses a known message', () => {
    expect(parseMessage(Buffer.from('{"t":"accepting"}'))).toEqual({ t: 'accepting' });
  });

  it('refuses what is not JSON, and unknown types, naming them', () => {
    expect(() => parseMessage(Buffer.from('{nope'))).toThrow(/handover: message is not JSON/);
    expect(() => parseMessage(Buffer.from('{"t":"steal"}'))).toThrow(
      /handover: unknown message type "steal"/,
    );
    expect(() => parseMessage(Buffer.from('[]'))).toThrow(/unknown message type undefined/);
  });
});

describe('weft status: the agent lifecycle', () => {
  const counts = { outbound: 3, inbound: 1, hboneSessions: 2, http: 0, relayed: 0 };
  const from = { pid: 10, generation: 1, startedAt: '2026-01-01T00:00:00.000Z' };

  it('shows generation and start, and what the old agent still drains', () => {
    const lines = formatLifecycle({
      pid: 20,
      generation: 2,
      startedAt: '2026-01-01T00:01:00.000Z',
      handover: {
        from,
        state: 'draining',
        listenersTaken: 5,
        listenersUnused: 0,
        connectionsMoved: 7,
        connectionsNotMoved: 0,
        draining: counts,
        graceLeftMs: 12_400,
      },
    });
    expect(lines).toEqual([
      'agent: generation 2, pid 20, started 2026-01-01T00:01:00.000Z',
      '  took over from generation 1 (pid 10): 5 listeners, 7 relayed connections moved; old agent still draining 3 outbound, 1 inbound, 2 HBONE sessions, 0 HTTP connections (13 s of grace left)',
    ]);
  });

  it('says what a grace period that ran out reset', () => {
    const lines = formatLifecycle({
      pid: 20,
      generation: 2,
      startedAt: 'x',
      handover: {
        from,
        state: 'done',
        listenersTaken: 5,
        listenersUnused: 0,
        connectionsMoved: 0,
        connectionsNotMoved: 0,
        draining: counts,
        result: 'grace period over',
      },
    });
    expect(lines[1]).toMatch(/old agent finished \(grace period over\), reset 3 outbound/);
  });

  it('says what could not be handed over: unused listeners, relays not moved', () => {
    const lines = formatLifecycle({
      pid: 20,
      generation: 2,
      startedAt: '2026-01-01T00:01:00.000Z',
      servingAt: '2026-01-01T00:01:01.200Z',
      handover: {
        from,
        state: 'done',
        listenersTaken: 5,
        listenersUnused: 2,
        connectionsMoved: 7,
        connectionsNotMoved: 3,
        draining: { ...counts, outbound: 0, inbound: 0, hboneSessions: 0 },
        result: 'drained',
      },
    });
    expect(lines).toEqual([
      'agent: generation 2, pid 20, started 2026-01-01T00:01:00.000Z, serving since 2026-01-01T00:01:01.200Z',
      '  took over from generation 1 (pid 10): 5 listeners (2 more offered for pods not here, closed), 7 relayed connections moved, 3 could not be relayed here (reset); old agent finished (drained)',
    ]);
  });
});
