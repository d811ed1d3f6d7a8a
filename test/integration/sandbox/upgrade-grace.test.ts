// A handover whose drain grace period runs out: an HBONE connection (its state lives in
// the old agent's JavaScript, so it cannot move) is held open and idle across node-1's
// agent upgrade with --drain-grace 1. Once the second is over the old agent resets it
// (never a FIN, which would make a cut-off transfer look complete), and both its log and
// the new agent's `weft status` say what could not be handed over. And an agent run with
// --after-handover wait (as on Kubernetes, where an exit would be restarted) stays, idle,
// once drained, and exits at once on SIGTERM.
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { alive } from '../../../agent/src/sandbox/agent-process.ts';
import { spawnInPod } from '../../../agent/src/sandbox/exec.ts';
import { formatLifecycle } from '../../../agent/src/telemetry/lifecycle.ts';
import { describePrivileged } from '../../support/privileged.ts';
import { type TestCluster, testCluster } from '../../support/sandbox.ts';
import { docs, namespace, pod } from '../../support/shop.ts';
import { until } from '../../support/until.ts';
import { echoServer } from '../../support/upgrade-load.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const manifests = docs(
  namespace('shop', 'weft.dev/mesh: enabled'),
  pod('shop', 'client', 'node-1'),
  pod('shop', 'far', 'node-2', { ports: '{containerPort: 8080}' }),
);

/** One connection, echoed once, then held idle; prints how it ended, and when. */
const heldClient = (host: string) => `
import net from 'node:net';
const s = net.connect({ host: '${host}', port: 8080, allowHalfOpen: true });
const seen = [];
s.on('connect', () => s.write('held\\n'));
s.once('data', () => console.log('ready'));
s.on('end', () => seen.push('end'));
s.on('error', (e) => seen.push(e.code ?? e.message));
s.on('close', () => { console.log(JSON.stringify({ seen, at: Date.now() })); process.exit(0); });
`;

describePrivileged('hitless agent upgrade: the grace period runs out', () => {
  let c: TestCluster;
  const clients: ChildProcess[] = [];

  /** Opens the held connection; resolves once echoed, with how it will end. */
  async function hold(): Promise<{ ended: Promise<{ seen: string[]; at: number }> }> {
    const p = spawnInPod(c.pod('shop/client'), heldClient(c.pod('shop/far').ip));
    clients.push(p);
    let out = '';
    p.stdout!.on('data', (d) => {
      out += d;
    });
    const exited = new Promise((r) => p.once('exit', r));
    await until('the held connection to be echoed', () => out.includes('ready'), 20_000);
    // Wrapped: an async function's result would wait for the inner promise too.
    return { ended: exited.then(() => JSON.parse(out.trim().split('\n').pop()!)) };
  }

  beforeAll(async () => {
    c = await testCluster('ug', { 'm.yaml': manifests }, 2, {
      agentArgs: ['--drain-grace', '1'],
    });
    await c.certificates(2);
    await c.serve('shop/far', echoServer(8080));
  }, 60_000);
  afterAll(async () => {
    for (const p of clients) p.kill('SIGKILL');
    await c?.down();
  });

  it('resets a held HBONE connection when the grace is over, and reports it', async () => {
    const held = await hold();
    // Resolves once the old agent is gone: the grace period over, it resets what is left.
    await c.sandbox.restartAgent('node-1');
    const ended = await Promise.race([held.ended, sleep(5000).then(() => null)]);
    expect(ended).not.toBeNull();
    const life = (await c.status('node-1')).lifecycle!;
    process.stderr.write(`grace: ${JSON.stringify({ ended, life })}\n`);
    // A reset, never a clean end first.
    expect(ended!.seen).toEqual(['ECONNRESET']);
    // Not before the grace period, counted from the new agent's accepting (just before
    // it reports serving).
    expect(ended!.at - Date.parse(life.servingAt!)).toBeGreaterThanOrEqual(800);
    // The new agent's status: the old one finished because the grace period was over,
    // and what it reset.
    expect(life.handover).toMatchObject({
      state: 'done',
      result: 'grace period over',
      draining: { outbound: 1 },
    });
    expect(formatLifecycle(life)[1]).toMatch(
      /old agent finished \(grace period over\), reset 1 outbound, 0 inbound/,
    );
    // The old agent's log says what it reset.
    const log = readFileSync(c.sandbox.state.nodes.find((n) => n.name === 'node-1')!.log, 'utf8');
    expect(log).toMatch(
      /handover: grace period over; resetting what could not be handed over: 1 outbound and 0 inbound connections/,
    );
  }, 120_000);

  it('with --after-handover wait, a drained agent idles until SIGTERM, then exits at once', async () => {
    const n2 = c.sandbox.state.nodes.find((n) => n.name === 'node-2')!;
    n2.agentArgs = [...n2.agentArgs!, '--after-handover', 'wait'];
    // Generation 2 runs with wait; generation 1 (exit) leaves on its own.
    await c.sandbox.restartAgent('node-2');
    const waiting = n2.agentPid!;
    // An HBONE connection served by generation 2 (its end of the tunnel lives in JavaScript):
    // left open when the grace is over, the idle agent resets it itself, without exiting.
    const held = await hold();
    const next = c.sandbox.restartAgent('node-2');
    try {
      // The new agent's status says when the old one is done draining.
      for (const end = Date.now() + 40_000; ; ) {
        const l = (await c.status('node-2').catch(() => null))?.lifecycle;
        if (l?.generation === 3 && l.handover?.state === 'done') break;
        if (Date.now() > end) throw new Error(`node-2: no finished handover to generation 3`);
        await sleep(50);
      }
      const log = () => readFileSync(n2.log, 'utf8');
      await until('the old agent to idle', () => log().includes('idle until SIGTERM'), 10_000);
      const ended = await Promise.race([held.ended, sleep(5000).then(() => null)]);
      expect(ended?.seen).toEqual(['ECONNRESET']);
      // Drained, it does not exit (a kubelet would restart it, and it would take over again).
      await sleep(1000);
      expect(alive(waiting)).toBe(true);
      const t0 = performance.now();
      process.kill(waiting, 'SIGTERM');
      const r = await next;
      const ms = performance.now() - t0;
      process.stderr.write(`wait: exited ${Math.round(ms)} ms after SIGTERM\n`);
      expect(r.oldPid).toBe(waiting);
      expect(alive(waiting)).toBe(false);
      expect(ms).toBeLessThan(2000);
    } finally {
      if (alive(waiting)) process.kill(waiting, 'SIGKILL');
      await next.catch(() => {});
    }
  }, 120_000);
});
