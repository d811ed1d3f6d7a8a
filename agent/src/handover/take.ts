// The new agent's side of a handover: connect to the running agent, take its
// listening sockets (serving them is the proxy's, through `inherit`), say when we
// accept, then adopt the relayed connections it moves and follow its drain.
import { existsSync } from 'node:fs';
import { type MovedRelay, native } from '../datapath/index.ts';
import type { InheritListener } from '../proxy/index.ts';
import type { HandoverStatus } from '../telemetry/index.ts';
import { Channel, closeAll, IDLE_POLL_MS, POLL_MS } from './channel.ts';
import {
  DEFAULT_DRAIN_GRACE_MS,
  HANDOVER_TIMEOUT_MS,
  MAX_OFFERED_WORKLOADS,
  PROTOCOL_VERSION,
  type RelayState,
} from './messages.ts';

const keyOf = (netnsPath: string, role: string, address: string, port: number) =>
  `${netnsPath}|${role}|${address}|${port}`;

export class Takeover {
  private readonly offered = new Map<string, number>();
  readonly status: HandoverStatus;
  private readonly ch: Channel;

  private constructor(ch: Channel, from: HandoverStatus['from']) {
    this.ch = ch;
    this.status = {
      from,
      state: 'offered',
      listenersTaken: 0,
      listenersUnused: 0,
      connectionsMoved: 0,
      connectionsNotMoved: 0,
    };
  }

  /**
   * Connects to the agent at path and receives its offer. Null when no agent answers
   * there (none ran, or it crashed): a fresh start. Throws when one answers but the
   * handover cannot proceed; the old agent then carries on.
   */
  static async connect(path: string): Promise<Takeover | null> {
    if (!existsSync(path)) return null;
    let fd: number;
    try {
      fd = native().fdConnect(path);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'ECONNREFUSED' || code === 'ENOENT') return null;
      throw e;
    }
    const ch = new Channel(fd);
    try {
      await ch.send({ t: 'hello', version: PROTOCOL_VERSION, pid: process.pid });
      const offer = await ch.receive(HANDOVER_TIMEOUT_MS);
      if (!offer) throw new Error('handover: the running agent closed the connection');
      if (offer.msg.t === 'refused') throw new Error(`handover refused: ${offer.msg.reason}`);
      if (offer.msg.t !== 'offer') throw new Error(`handover: expected offer, got ${offer.msg.t}`);
      const t = new Takeover(ch, {
        pid: offer.msg.pid,
        generation: offer.msg.generation,
        startedAt: offer.msg.startedAt,
      });
      await t.receiveListeners();
      return t;
    } catch (e) {
      ch.close();
      throw e;
    }
  }

  private async receiveListeners(): Promise<void> {
    for (let n = 0; ; n++) {
      const r = await this.ch.receive(HANDOVER_TIMEOUT_MS);
      if (!r) throw new Error('handover: the running agent went away during its offer');
      if (r.msg.t === 'offer-end') return;
      if (r.msg.t !== 'listeners' || n >= MAX_OFFERED_WORKLOADS) {
        closeAll(r.fds);
        throw new Error(`handover: unexpected ${r.msg.t} in the offer`);
      }
      const m = r.msg;
      if (m.listeners.length !== r.fds.length) {
        closeAll(r.fds);
        throw new Error(
          `handover: ${m.key}: ${m.listeners.length} listeners named, ${r.fds.length} fds passed`,
        );
      }
      m.listeners.forEach((l, i) => {
        this.offered.set(keyOf(m.netnsPath, l.role, l.address, l.port), r.fds[i]!);
      });
    }
  }

  /** The lookup the proxy opens its listeners with: each offered socket is taken once. */
  readonly inherit: InheritListener = (netnsPath, role, address, port) => {
    const k = keyOf(netnsPath, role, address, port);
    const fd = this.offered.get(k);
    if (fd === undefined) return undefined;
    this.offered.delete(k);
    this.status.listenersTaken++;
    return fd;
  };

  /**
   * Our listeners serve: the old agent may stop accepting. Sockets offered for pods this
   * agent does not enroll are closed. Then relayed connections arrive and are adopted.
   */
  async accept(
    adopt: (relay: MovedRelay, state: RelayState) => boolean,
    log: (line: string) => void,
  ): Promise<void> {
    this.status.listenersUnused = this.offered.size;
    closeAll(this.offered.values());
    this.offered.clear();
    try {
      await this.ch.send({ t: 'accepting' });
    } catch (e) {
      // The old agent died after its offer: this one holds every socket and serves alone.
      this.status.state = 'failed';
      this.status.error = `the old agent went away before it heard we accept: ${(e as Error).message}`;
      log(`handover: ${this.status.error}`);
      this.ch.close();
      return;
    }
    this.status.state = 'draining';
    void this.follow(adopt, log);
  }

  private async follow(
    adopt: (relay: MovedRelay, state: RelayState) => boolean,
    log: (line: string) => void,
  ): Promise<void> {
    // The old agent reports at least every DRAIN_REPORT_MS; its grace period bounds the rest.
    const quiet = DEFAULT_DRAIN_GRACE_MS + HANDOVER_TIMEOUT_MS;
    // Moved connections wait in their buffers until adopted: poll fast while they come.
    let busyUntil = performance.now() + 1000;
    try {
      for (;;) {
        const r = await this.ch.receive(
          Math.max(quiet, (this.status.graceLeftMs ?? 0) * 2),
          performance.now() < busyUntil ? POLL_MS : IDLE_POLL_MS,
        );
        if (!r) throw new Error('the old agent went away before it said it was done');
        const m = r.msg;
        if (m.t === 'relays') {
          busyUntil = performance.now() + 1000;
          if (r.fds.length !== m.relays.length * 6) {
            closeAll(r.fds);
            throw new Error(`${m.relays.length} relays with ${r.fds.length} fds`);
          }
          m.relays.forEach((s, i) => {
            const [a, b, abR, abW, baR, baW] = r.fds.slice(i * 6, i * 6 + 6) as number[];
            const relay: MovedRelay = {
              id: 0,
              a: a!,
              b: b!,
              ab: { ...s.ab, pipeRead: abR!, pipeWrite: abW! },
              ba: { ...s.ba, pipeRead: baR!, pipeWrite: baW! },
            };
            if (adopt(relay, s)) this.status.connectionsMoved++;
            else {
              // Not relayed here (no kernel relay in this agent): closed, so reset.
              this.status.connectionsNotMoved++;
              closeAll([a!, b!, abR!, abW!, baR!, baW!]);
            }
          });
        } else if (m.t === 'draining') {
          this.status.draining = m.counts;
          this.status.graceLeftMs = m.graceLeftMs;
        } else if (m.t === 'done') {
          this.status.state = 'done';
          this.status.draining = m.counts;
          this.status.graceLeftMs = 0;
          this.status.result = m.reason;
          log(
            `handover from pid ${this.status.from.pid} done (${m.reason}); ${this.status.connectionsMoved} connections moved here`,
          );
          return;
        } else {
          closeAll(r.fds);
          throw new Error(`unexpected ${m.t} while draining`);
        }
      }
    } catch (e) {
      this.status.state = 'failed';
      this.status.error = (e as Error).message;
      log(`handover from pid ${this.status.from.pid}: ${(e as Error).message}`);
    } finally {
      this.ch.close();
    }
  }

  /** Gives up before accepting: offered sockets are closed; the old agent carries on. */
  abandon(): void {
    closeAll(this.offered.values());
    this.offered.clear();
    this.ch.close();
  }
}
