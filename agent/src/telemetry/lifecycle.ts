// The agent's own life in `weft status`: which generation runs on the node, since
// when, and the handover it took (or is giving): what moved, what still drains.

/** What a draining agent still carries (proxy/drain.ts counts it). */
export interface DrainCountsDoc {
  outbound: number;
  inbound: number;
  hboneSessions: number;
  http: number;
  relayed: number;
}

export interface HandoverStatus {
  from: { pid: number; generation: number; startedAt: string };
  state: 'offered' | 'draining' | 'done' | 'failed';
  /** Listening sockets taken over, and how many had no workload here any more (closed). */
  listenersTaken: number;
  listenersUnused: number;
  /** Relayed connections moved to this agent, and those it could not relay (reset). */
  connectionsMoved: number;
  connectionsNotMoved: number;
  /** What the old agent still carries (while draining) or left behind (done). */
  draining?: DrainCountsDoc;
  graceLeftMs?: number;
  /** Why the old agent finished: everything ended, or the grace period ran out. */
  result?: string;
  error?: string;
}

export interface AgentLifecycle {
  pid: number;
  /** 1 for the first agent on the node; each agent that starts after one adds 1. */
  generation: number;
  startedAt: string;
  /**
   * When it began to serve in full: every listener accepting and every pod's HBONE side with
   * its certificate (after a handover, once accepted; absent while a certificate is missing).
   */
  servingAt?: string;
  /** The handover this agent took from the previous one, if it took one. */
  handover?: HandoverStatus;
  /** Set while this agent hands over to a newer one and drains. */
  handingOver?: { to: number; draining: DrainCountsDoc };
}

function counts(c: DrainCountsDoc): string {
  return `${c.outbound} outbound, ${c.inbound} inbound, ${c.hboneSessions} HBONE sessions, ${c.http} HTTP connections`;
}

/** The lines `weft status` prints for it. */
export function formatLifecycle(l: AgentLifecycle): string[] {
  const out = [
    `agent: generation ${l.generation}, pid ${l.pid}, started ${l.startedAt}${l.servingAt ? `, serving since ${l.servingAt}` : ''}`,
  ];
  const h = l.handover;
  if (h) {
    // What could not be handed over is said too: sockets offered for pods not enrolled
    // here (closed), relayed connections this agent could not relay (reset).
    const what = `took over from generation ${h.from.generation} (pid ${h.from.pid}): ${h.listenersTaken} listeners${h.listenersUnused ? ` (${h.listenersUnused} more offered for pods not here, closed)` : ''}, ${h.connectionsMoved} relayed connections moved${h.connectionsNotMoved ? `, ${h.connectionsNotMoved} could not be relayed here (reset)` : ''}`;
    if (h.state === 'draining' && h.draining)
      out.push(
        `  ${what}; old agent still draining ${counts(h.draining)} (${Math.ceil((h.graceLeftMs ?? 0) / 1000)} s of grace left)`,
      );
    else if (h.state === 'done')
      out.push(
        `  ${what}; old agent finished (${h.result})${h.result === 'grace period over' && h.draining ? `, reset ${counts(h.draining)}` : ''}`,
      );
    else out.push(`  ${what}; ${h.state}${h.error ? `: ${h.error}` : ''}`);
  }
  if (l.handingOver)
    out.push(
      `  handing over to pid ${l.handingOver.to}; draining ${counts(l.handingOver.draining)}`,
    );
  return out;
}
