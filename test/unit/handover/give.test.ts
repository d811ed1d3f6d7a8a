// The running agent's side of a handover, in one process over a real handover socket:
// from the new agent's hello on, the old agent is not ready (its readiness is 503 and its
// liveness 200, so the kubelet neither counts it ready nor restarts it); a handover that
// fails before the new agent accepts makes it ready again. A probe naming another
// revision is answered 503 before any hello. And what --after-handover and
// --health-socket choose.
import { mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { afterHandoverOption, healthSocketOption } from '../../../agent/src/cli/commands/agent.ts';
import { type Giver, HandoverServer, Takeover } from '../../../agent/src/handover/index.ts';
import { HealthServer } from '../../../agent/src/telemetry/health.ts';
import { ProxyStats } from '../../../agent/src/telemetry/index.ts';
import { until } from '../../support/until.ts';

const dir = mkdtempSync(join(tmpdir(), 'weft-give-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const idle = { outbound: 0, inbound: 0, hboneSessions: 0, http: 0, relayed: 0 };

function giver(): Giver & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    generation: 1,
    startedAt: new Date().toISOString(),
    pause: async () => {
      calls.push('pause');
    },
    resume: () => {
      calls.push('resume');
    },
    listening: () => [],
    stopAccepting: (pid) => {
      calls.push(`stop ${pid}`);
    },
    draining: () => idle,
    outboundStats: new ProxyStats().outbound,
  };
}

function status(port: number, path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
}

describe('an agent handing over', () => {
  it('is not ready from the new agent hello on, and stays live', async () => {
    const path = join(dir, 'ok.sock');
    const g = giver();
    const server = HandoverServer.listen(path, g, 1000, () => {});
    const health = await HealthServer.start(
      { ready: () => true, handingOver: () => server.giving },
      { host: '127.0.0.1', healthPort: 0 },
    );
    try {
      const port = health.ports.health!;
      expect(await status(port, '/healthz/ready')).toBe(200);
      const takeover = await Takeover.connect(path);
      expect(takeover).not.toBeNull();
      // Offered: the new pod's readiness probe may reach this agent; it must not say ready.
      expect(server.giving).toBe(true);
      expect(await status(port, '/healthz/ready')).toBe(503);
      expect(await status(port, '/healthz/live')).toBe(200);
      await takeover!.accept(
        () => false,
        () => {},
      );
      const report = await server.finished;
      expect(report).toMatchObject({ to: process.pid, moved: 0, lost: 0, reason: 'drained' });
      expect(g.calls).toEqual(['pause', `stop ${process.pid}`]);
      // Drained and waiting for SIGTERM (--after-handover wait): still not ready, still live.
      expect(await status(port, '/healthz/ready')).toBe(503);
      expect(await status(port, '/healthz/live')).toBe(200);
    } finally {
      server.stop();
      health.close();
    }
  });

  it('is ready again when the new agent gives up before it accepts', async () => {
    const path = join(dir, 'abandoned.sock');
    const g = giver();
    const server = HandoverServer.listen(path, g, 1000, () => {});
    try {
      const takeover = await Takeover.connect(path);
      expect(server.giving).toBe(true);
      takeover!.abandon();
      await until('the old agent to serve on', () => !server.giving, 5000);
      expect(g.calls).toEqual(['pause', 'resume']);
    } finally {
      server.stop();
    }
  });
});

describe('readiness of two agents sharing the health port', () => {
  it('answers a probe naming another revision with 503, and its own as before', async () => {
    const health = await HealthServer.start(
      { ready: () => true, handingOver: () => false, revision: 'aaa111' },
      { host: '127.0.0.1', healthPort: 0 },
    );
    try {
      const port = health.ports.health!;
      // The new pod's probe, reaching the old agent before the new one has said hello.
      expect(await status(port, '/healthz/ready', { 'x-weft-revision': 'bbb222' })).toBe(503);
      expect(await status(port, '/healthz/ready', { 'x-weft-revision': 'aaa111' })).toBe(200);
      // Without the header (people, scripts) readiness is the agent's own.
      expect(await status(port, '/healthz/ready')).toBe(200);
      expect(await status(port, '/healthz/live', { 'x-weft-revision': 'bbb222' })).toBe(200);
    } finally {
      health.close();
    }
  });
});

describe('--after-handover', () => {
  it('waits under Kubernetes (the kubelet restarts an exited container), else exits', () => {
    expect(afterHandoverOption(undefined, true)).toBe('wait');
    expect(afterHandoverOption(undefined, false)).toBe('exit');
    expect(afterHandoverOption('exit', true)).toBe('exit');
    expect(afterHandoverOption('wait', false)).toBe('wait');
  });

  it('refuses anything else, naming it', () => {
    expect(() => afterHandoverOption('linger', true)).toThrow(
      /--after-handover is exit or wait, not linger/,
    );
  });
});

describe('--health-socket', () => {
  it("is on under Kubernetes (the pod's own /tmp), off elsewhere (agents of a host share /tmp)", () => {
    expect(healthSocketOption(undefined, true)).toBe('/tmp/weft-health.sock');
    expect(healthSocketOption(undefined, false)).toBeUndefined();
    expect(healthSocketOption('/run/x/health.sock', false)).toBe('/run/x/health.sock');
  });

  it('refuses a relative path, naming it', () => {
    expect(() => healthSocketOption('health.sock', true)).toThrow(
      /--health-socket takes an absolute path, not "health.sock"/,
    );
  });
});
