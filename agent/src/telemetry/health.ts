// Health and metrics over plain HTTP for the kubelet and Prometheus:
//   :15021 /healthz/live   200 while the process serves requests
//          /healthz/ready  200 once the agent has its initial cluster state, else 503;
//                          503 again once a newer agent takes over, and to a probe
//                          for another revision (X-Weft-Revision; docs/upgrades.md)
//   unix socket            /healthz/live and /healthz/ready only, for the pod's exec
//                          readiness probe (`weft-probe ready`): container-local, so
//                          never answered by the other agent of an update
//   :15020 /metrics        the process's metrics (metrics.ts, issuer-metrics/)
//          /flows?since=N  the agent's flows after sequence number N, as JSON (what
//                          `weft observe --kubernetes` reads through the API server)
// Both ports may be the same server; either may be off.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HealthSource {
  ready(): boolean;
  /**
   * This agent's revision (--revision). A readiness probe naming another one in
   * X-Weft-Revision is for the other agent of an update sharing the port: 503.
   */
  revision?: string;
  /** A newer agent is taking over from this one: not ready any more, still live. */
  handingOver?(): boolean;
  /** The Prometheus exposition; rejects when there is nothing to count yet. */
  metrics?(): Promise<string>;
  /** The flows after a sequence number (the agent's flow log), served beside the metrics. */
  flows?(since: number): unknown[];
}

export interface HealthOptions {
  host?: string;
  healthPort?: number;
  metricsPort?: number;
  /**
   * Also serve /healthz/* on this unix socket. listen puts the server there (mode 0600,
   * replacing a stale file) and returns what removes it again: admin's listenUnix, which
   * this room may not import.
   */
  socket?: { path: string; listen(server: Server, path: string): Promise<() => void> };
}

function handler(src: HealthSource, serve: { health: boolean; metrics: boolean }) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    const text = (code: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(code, { 'content-type': type });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return text(405, 'method not allowed\n');
    if (serve.health && path === '/healthz/live') return text(200, 'ok\n');
    if (serve.health && path === '/healthz/ready') {
      if (src.handingOver?.()) return text(503, 'handing over to a newer agent\n');
      const asked = req.headers['x-weft-revision'];
      if (src.revision !== undefined && typeof asked === 'string' && asked !== src.revision)
        return text(503, `a probe for revision ${asked}; this agent is ${src.revision}\n`);
      return src.ready() ? text(200, 'ready\n') : text(503, 'initial cluster state not synced\n');
    }
    if (serve.metrics && path === '/flows' && src.flows) {
      const since = new URL(req.url ?? '/', 'http://x').searchParams.get('since') ?? '0';
      if (!/^\d{1,15}$/.test(since)) return text(400, 'since: a sequence number\n');
      return text(200, JSON.stringify(src.flows(Number(since))), 'application/json');
    }
    if (serve.metrics && path === '/metrics' && src.metrics) {
      src.metrics().then(
        (body) => text(200, body, 'text/plain; version=0.0.4; charset=utf-8'),
        // Asked before the agent has started: nothing to count yet.
        () => text(503, 'not started\n'),
      );
      return;
    }
    text(404, 'not found\n');
  };
}

async function listen(server: Server, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // SO_REUSEPORT: during an upgrade the new agent's pod (same node, host network) binds
    // the same ports beside the old one (docs/upgrades.md).
    server.listen({ port, host, reusePort: port !== 0 }, () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

export class HealthServer {
  private readonly servers: Server[] = [];
  readonly ports: { health?: number; metrics?: number } = {};
  private removeSocket: (() => void) | undefined;

  static async start(src: HealthSource, opts: HealthOptions): Promise<HealthServer> {
    const h = new HealthServer();
    const host = opts.host ?? '0.0.0.0';
    try {
      if (opts.socket) {
        const s = createServer(handler(src, { health: true, metrics: false }));
        h.servers.push(s);
        h.removeSocket = await opts.socket.listen(s, opts.socket.path).catch((e: Error) => {
          throw new Error(`health socket: ${e.message}`);
        });
      }
      if (opts.healthPort !== undefined && opts.healthPort === opts.metricsPort) {
        const s = createServer(handler(src, { health: true, metrics: true }));
        h.servers.push(s);
        h.ports.health = h.ports.metrics = await listen(s, host, opts.healthPort);
        return h;
      }
      if (opts.healthPort !== undefined) {
        const s = createServer(handler(src, { health: true, metrics: false }));
        h.servers.push(s);
        h.ports.health = await listen(s, host, opts.healthPort);
      }
      if (opts.metricsPort !== undefined) {
        const s = createServer(handler(src, { health: false, metrics: true }));
        h.servers.push(s);
        h.ports.metrics = await listen(s, host, opts.metricsPort);
      }
    } catch (e) {
      h.close();
      throw e;
    }
    return h;
  }

  /** Stops listening; the socket file goes too, unless a newer agent has put its own there. */
  close(): void {
    for (const s of this.servers) s.close();
    this.removeSocket?.();
    this.removeSocket = undefined;
  }
}
