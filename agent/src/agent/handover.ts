// The agent's part in a handover (handover/ holds the protocol): what it offers and
// how it stops accepting when a newer agent takes over the node, and how it adopts
// what the older one moves to it.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { MovedRelay } from '../datapath/index.ts';
import {
  type GiveReport,
  type Giver,
  HANDOVER_TIMEOUT_MS,
  HandoverServer,
  type RelayState,
  sleep,
  Takeover,
} from '../handover/index.ts';
import { adoptRelay, type DrainCounts, type InheritListener } from '../proxy/index.ts';
import type { AgentLifecycle } from '../telemetry/index.ts';
import type { Agent } from './agent.ts';

export function giverOf(
  agent: Agent,
  lifecycle: { generation: number; startedAt: string },
  onStopAccepting: () => void,
): Giver {
  const proxy = () => agent.nodeProxy;
  return {
    generation: lifecycle.generation,
    startedAt: lifecycle.startedAt,
    pause: () => agent.pause(),
    resume: () => agent.resume(),
    listening: () => proxy().listening(),
    stopAccepting: (_pid: number) => {
      proxy().stopAccepting();
      agent.quiesce();
      onStopAccepting();
    },
    draining: () => proxy().draining(),
    get outboundStats() {
      return proxy().stats.outbound;
    },
  };
}

/** Relays a connection the old agent moved here, counted in its direction. */
export function adopter(agent: Agent): (relay: MovedRelay, state: RelayState) => boolean {
  return (relay, state) => {
    const stats = agent.nodeProxy.stats;
    return adoptRelay(relay, state.direction === 'outbound' ? stats.outbound : stats.inbound);
  };
}

/**
 * One agent's life on a node: its generation (one more than the agent before it, which
 * it learns in a handover or, after a crash, from the file beside the handover socket),
 * the handover it took, and the one it gives.
 */
export class Lifecycle {
  readonly generation: number;
  readonly startedAt = new Date().toISOString();
  private servingAt: string | undefined;
  readonly takeover: Takeover | null;
  private giving: HandoverServer | null = null;
  private handingOver: { to: number; draining: DrainCounts } | undefined;

  private constructor(takeover: Takeover | null, generation: number) {
    this.takeover = takeover;
    this.generation = generation;
  }

  /** Takes over from the agent answering at path, if one does (else a fresh start). */
  static async begin(path: string): Promise<Lifecycle> {
    mkdirSync(dirname(path), { recursive: true });
    const takeover = await Takeover.connect(path);
    const genFile = `${path}.generation`;
    let before = takeover?.status.from.generation;
    if (before === undefined) {
      try {
        before = Number(readFileSync(genFile, 'utf8').trim()) || 0;
      } catch {
        before = 0;
      }
    }
    const life = new Lifecycle(takeover, before + 1);
    writeFileSync(genFile, `${life.generation}\n`);
    return life;
  }

  get inherit(): InheritListener | undefined {
    return this.takeover?.inherit;
  }

  status(): AgentLifecycle {
    return {
      pid: process.pid,
      generation: this.generation,
      startedAt: this.startedAt,
      ...(this.servingAt ? { servingAt: this.servingAt } : {}),
      ...(this.takeover ? { handover: this.takeover.status } : {}),
      ...(this.handingOver ? { handingOver: this.handingOver } : {}),
    };
  }

  /**
   * Once the agent serves every listener (HBONE's need its pods' certificates first), the
   * old one may stop accepting. Not served in time: the handover is abandoned, and the
   * old agent carries on.
   */
  async accepted(agent: Agent, log: (l: string) => void): Promise<void> {
    if (!this.takeover) {
      // A fresh start (after a crash, too) accepts at once: plaintext needs no certificate.
      // It serves in full once every pod's HBONE side has its certificate.
      agent.nodeProxy.acceptInherited();
      void this.servingInFull(agent);
      return;
    }
    const until = performance.now() + HANDOVER_TIMEOUT_MS;
    let missing = agent.notYetServing();
    while (missing.length) {
      if (performance.now() > until) {
        this.abandon();
        throw new Error(
          `handover: no certificate for ${missing.join(', ')} within ${HANDOVER_TIMEOUT_MS / 1000} s; the running agent carries on`,
        );
      }
      await sleep(20);
      missing = agent.notYetServing();
    }
    agent.nodeProxy.acceptInherited();
    await this.takeover.accept(adopter(agent), log);
    this.servingAt = new Date().toISOString();
  }

  /** Sets servingAt once nothing waits for a certificate (polled: 20 ms, 1 s after 10 s). */
  private async servingInFull(agent: Agent): Promise<void> {
    const fast = performance.now() + HANDOVER_TIMEOUT_MS;
    while (agent.notYetServing().length) await sleep(performance.now() < fast ? 20 : 1000);
    this.servingAt = new Date().toISOString();
  }

  abandon(): void {
    this.takeover?.abandon();
  }

  /** Waits for the next agent at path; resolves once handed over and drained. */
  offer(
    path: string,
    agent: Agent,
    graceMs: number,
    log: (l: string) => void,
    onStopAccepting: () => void,
  ): Promise<GiveReport> {
    const giver = giverOf(agent, this, onStopAccepting);
    const draining = giver.draining;
    // While draining, the status says what is left (the admin API may still answer).
    giver.draining = () => {
      const c = draining();
      if (this.handingOver) this.handingOver.draining = c;
      return c;
    };
    const stop = giver.stopAccepting;
    giver.stopAccepting = (pid) => {
      this.handingOver = { to: pid, draining: draining() };
      stop(pid);
    };
    this.giving = HandoverServer.listen(path, giver, graceMs, log);
    return this.giving.finished;
  }

  /** Whether this agent has handed over (it drains and exits on its own). */
  get handedOver(): boolean {
    return this.handingOver !== undefined;
  }

  /**
   * A newer agent has begun to take over: from its hello on, this agent is not ready.
   * On Kubernetes both agents answer the node's health port (SO_REUSEPORT), so the new
   * pod's readiness probe may reach this one; ready here would let the kubelet stop this
   * pod mid-handover. Back to ready if the handover fails before the new agent accepts.
   */
  get givingOver(): boolean {
    return this.giving?.giving ?? false;
  }

  close(): void {
    this.giving?.stop();
  }
}
