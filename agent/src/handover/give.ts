// The running agent's side of a handover. It listens on the handover socket; when the
// next agent connects, it stops changing the datapath, offers every listening socket,
// and keeps serving until that agent says it accepts. Only then does it stop
// accepting: no moment without a listener. Afterwards it moves every connection the
// kernel relay carries, as they get there, and drains what lives in JavaScript (HBONE
// and TLS sessions, L7 requests) until it ends or the grace period is over.
import { native } from '../datapath/index.ts';
import { type DrainCounts, exportRelays } from '../proxy/index.ts';
import type { DirectionStats } from '../telemetry/index.ts';
import { Channel, sleep } from './channel.ts';
import {
  ACCEPT_TIMEOUT_MS,
  DRAIN_REPORT_MS,
  DRAIN_TICK_MS,
  HANDOVER_TIMEOUT_MS,
  PROTOCOL_VERSION,
  RELAYS_PER_MESSAGE,
  type RelayState,
} from './messages.ts';

/** What the handover needs of the running agent. */
export interface Giver {
  readonly generation: number;
  readonly startedAt: string;
  /** Stops applying snapshots (a change would race the new agent); resolves when idle. */
  pause(): Promise<void>;
  /** The handover failed before the new agent accepted: carry on as before. */
  resume(): void;
  listening(): {
    key: string;
    netnsPath: string;
    fds: { role: 'outbound' | 'inbound' | 'hbone'; address: string; port: number; fd: number }[];
  }[];
  /** The new agent (pid) accepts: stop accepting, stop the control plane; open connections stay. */
  stopAccepting(pid: number): void;
  draining(): DrainCounts;
  /** The proxy's counters, to tell a moved connection's direction. */
  readonly outboundStats: DirectionStats;
}

/** What a handover did, for the log and the status. */
export interface GiveReport {
  to: number;
  moved: number;
  /** Relayed connections that could not be sent (the new agent went away): reset here. */
  lost: number;
  drained: DrainCounts;
  reason: 'drained' | 'grace period over';
}

/** The number of JavaScript-carried things still open: zero means drained. */
export function leftOpen(c: DrainCounts): number {
  return c.outbound + c.inbound + c.hboneSessions + c.http;
}

export class HandoverServer {
  private readonly fd: number;
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  private stopped = false;
  private lost = 0;
  /** Resolves when this agent has handed over and drained: it should exit then. */
  readonly finished: Promise<GiveReport>;
  private finish!: (r: GiveReport) => void;
  readonly path: string;
  private readonly giver: Giver;
  private readonly graceMs: number;
  private readonly log: (line: string) => void;

  private constructor(path: string, giver: Giver, graceMs: number, log: (line: string) => void) {
    this.path = path;
    this.giver = giver;
    this.graceMs = graceMs;
    this.log = log;
    this.fd = native().fdListen(path);
    this.finished = new Promise((r) => {
      this.finish = r;
    });
  }

  /** Listens at path (mode 0600, replacing what was there) for the next agent. */
  static listen(
    path: string,
    giver: Giver,
    graceMs: number,
    log: (line: string) => void,
  ): HandoverServer {
    const s = new HandoverServer(path, giver, graceMs, log);
    // Polled: an agent that connects waits at most this long to be noticed.
    s.timer = setInterval(() => s.poll(), 50);
    s.timer.unref();
    return s;
  }

  /**
   * A newer agent has begun to take over (from its connecting, which its hello follows,
   * until this agent is gone, unless the handover fails first): the node's readiness is
   * that agent's now.
   */
  get giving(): boolean {
    return this.busy;
  }

  private poll(): void {
    if (this.busy || this.stopped) return;
    let peer: ReturnType<ReturnType<typeof native>['fdAccept']>;
    try {
      peer = native().fdAccept(this.fd);
    } catch (e) {
      this.log(`handover: accept: ${(e as Error).message}`);
      return;
    }
    if (!peer) return;
    const ch = new Channel(peer.fd);
    // Only this agent's own user (root) may take its sockets (the socket is 0600 as well).
    if (peer.uid !== process.getuid?.()) {
      this.log(`handover: refused pid ${peer.pid}: uid ${peer.uid} is not this agent's`);
      void ch.send({ t: 'refused', reason: 'not the agent user' }).finally(() => ch.close());
      return;
    }
    this.busy = true;
    this.give(ch, peer.pid).then(
      (r) => {
        this.stop();
        this.finish(r);
      },
      (e: Error) => {
        ch.close();
        this.log(`handover to pid ${peer.pid} failed, serving on: ${e.message}`);
        this.giver.resume();
        this.busy = false;
      },
    );
  }

  private async give(ch: Channel, pid: number): Promise<GiveReport> {
    const hello = await ch.receive(HANDOVER_TIMEOUT_MS);
    if (hello?.msg.t !== 'hello') throw new Error('no hello');
    if (hello.msg.version !== PROTOCOL_VERSION) {
      await ch.send({
        t: 'refused',
        reason: `protocol ${hello.msg.version} is not ${PROTOCOL_VERSION}`,
      });
      throw new Error(`protocol version ${hello.msg.version}`);
    }
    await this.giver.pause();
    const g = this.giver;
    await ch.send({
      t: 'offer',
      version: PROTOCOL_VERSION,
      pid: process.pid,
      generation: g.generation,
      startedAt: g.startedAt,
    });
    const workloads = g.listening();
    for (const w of workloads)
      await ch.send(
        {
          t: 'listeners',
          key: w.key,
          netnsPath: w.netnsPath,
          listeners: w.fds.map(({ role, address, port }) => ({ role, address, port })),
        },
        w.fds.map((f) => f.fd),
      );
    await ch.send({ t: 'offer-end', workloads: workloads.length });
    const accepting = await ch.receive(ACCEPT_TIMEOUT_MS);
    if (accepting?.msg.t !== 'accepting')
      throw new Error('the new agent went away before it accepted');
    // From here on there is no going back: the new agent serves every listener.
    g.stopAccepting(pid);
    this.log(`handover: pid ${pid} accepts; moving relayed connections, draining the rest`);
    return this.drain(ch, pid);
  }

  private async drain(ch: Channel, pid: number): Promise<GiveReport> {
    const start = performance.now();
    let moved = 0;
    let lastReport = 0;
    // The new agent gone mid-drain: what the relay holds stays here and drains too.
    let channelOk = true;
    for (;;) {
      if (channelOk) {
        try {
          moved += await this.moveRelays(ch);
        } catch (e) {
          channelOk = false;
          this.log(`handover: moving connections to pid ${pid} failed: ${(e as Error).message}`);
        }
      }
      const counts = this.giver.draining();
      const elapsed = performance.now() - start;
      const over = elapsed >= this.graceMs;
      if (leftOpen(counts) === 0 || over) {
        const reason = over && leftOpen(counts) > 0 ? 'grace period over' : 'drained';
        await ch.send({ t: 'done', counts, reason }).catch(() => {});
        ch.close();
        if (reason !== 'drained')
          this.log(
            `handover: grace period over; resetting what could not be handed over: ${describe(counts)}`,
          );
        return { to: pid, moved, lost: this.lost, drained: counts, reason };
      }
      if (elapsed - lastReport >= DRAIN_REPORT_MS) {
        lastReport = elapsed;
        await ch
          .send({ t: 'draining', counts, graceLeftMs: Math.round(this.graceMs - elapsed) })
          .catch(() => {});
      }
      await sleep(DRAIN_TICK_MS);
    }
  }

  /** Moves what the kernel relay carries now (joins get there once quiet). */
  private async moveRelays(ch: Channel): Promise<number> {
    const out = exportRelays();
    for (let i = 0; i < out.length; i += RELAYS_PER_MESSAGE) {
      const batch = out.slice(i, i + RELAYS_PER_MESSAGE);
      const fds = batch.flatMap((r) => [
        r.relay.a,
        r.relay.b,
        r.relay.ab.pipeRead,
        r.relay.ab.pipeWrite,
        r.relay.ba.pipeRead,
        r.relay.ba.pipeWrite,
      ]);
      const relays: RelayState[] = batch.map(({ relay, stats }) => ({
        direction: stats === this.giver.outboundStats ? 'outbound' : 'inbound',
        ab: strip(relay.ab),
        ba: strip(relay.ba),
      }));
      try {
        await ch.send({ t: 'relays', relays }, fds);
      } catch (e) {
        // Nobody took them: they end with RST (SO_LINGER 0), as at this agent's exit.
        this.lost += batch.length;
        throw new Error(`${batch.length} relayed connections lost: ${(e as Error).message}`);
      } finally {
        // The new agent holds its own copies.
        for (const fd of fds) native().closeFd(fd);
      }
    }
    return out.length;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    try {
      native().closeFd(this.fd);
    } catch {
      // closed already
    }
  }
}

function strip(d: { inPipe: number; eof: boolean; shut: boolean; bytes: number }) {
  return { inPipe: d.inPipe, eof: d.eof, shut: d.shut, bytes: d.bytes };
}

export function describe(c: DrainCounts): string {
  return `${c.outbound} outbound and ${c.inbound} inbound connections, ${c.hboneSessions} HBONE sessions, ${c.http} HTTP connections`;
}
