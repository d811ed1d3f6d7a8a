// The admin API: GET /status, /access-log, /events and /flows?since=N as JSON, on a unix socket
// of mode 0600 (what `weft status` uses). TCP only when asked (--admin-tcp): whoever reaches a
// TCP port in the agent's netns (the host's, on Kubernetes) could read what the access log holds.
import { createServer, type Server } from 'node:http';
import { parseTraceQuery } from '../policy/index.ts';
import type { AuthzRequest } from '../state/index.ts';
import type { AgentStatus } from '../telemetry/index.ts';
import { listenUnix } from './unix-socket.ts';

/** What the admin API serves: the agent implements it. */
export interface AdminSource {
  status(): AgentStatus;
  accessLog(): unknown[];
  datapathEvents(): unknown[];
  flowsSince(seq: number): unknown[];
  /** The node's metrics as Prometheus text (`weft graph` reads them), null when metrics are off. */
  metricsText?(): Promise<string | null>;
  trace(q: {
    from: string;
    to: string;
    port: number;
    protocol?: 'TCP' | 'UDP';
    http?: AuthzRequest;
  }): unknown;
}

export interface AdminOptions {
  /** Also listen on this TCP address (host:port, [v6]:port); off by default. */
  tcp?: { host: string; port: number };
  /** Mode of the unix socket (default 0600). */
  mode?: number;
}

/** host:port or [v6]:port → its parts; undefined when it is neither. */
export function parseHostPort(s: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(s);
  const port = Number(m?.[3]);
  if (!m || port > 65535) return undefined;
  return { host: m[1] ?? m[2]!, port };
}

export class AdminServer {
  private readonly servers: Server[] = [];
  private removeSocket: () => void = () => {};

  /** The TCP address listened on, when asked for one. */
  tcpAddress: { address: string; port: number } | null = null;

  static async start(
    agent: AdminSource,
    socketPath: string,
    opts: AdminOptions = {},
  ): Promise<AdminServer> {
    const a = new AdminServer();
    const onRequest: Parameters<typeof createServer>[1] = (req, res) => {
      const json = (v: unknown) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(v));
      };
      if (req.method === 'GET' && req.url === '/status') return json(agent.status());
      if (req.method === 'GET' && req.url === '/access-log') return json(agent.accessLog());
      if (req.method === 'GET' && req.url === '/events') return json(agent.datapathEvents());
      if (req.method === 'GET' && req.url?.startsWith('/trace?')) {
        try {
          return json(agent.trace(parseTraceQuery(new URL(req.url, 'http://admin').searchParams)));
        } catch (e) {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: (e as Error).message }));
          return;
        }
      }
      if (req.method === 'GET' && req.url === '/metrics') {
        (agent.metricsText?.() ?? Promise.resolve(null)).then(
          (text) => {
            res.writeHead(text === null ? 404 : 200, { 'content-type': 'text/plain' });
            res.end(text ?? 'metrics are off on this agent\n');
          },
          (e: Error) => {
            res.writeHead(503, { 'content-type': 'text/plain' });
            res.end(`${e.message}\n`);
          },
        );
        return;
      }
      const m = /^\/flows(?:\?since=(\d+))?$/.exec(req.url ?? '');
      if (req.method === 'GET' && m) return json(agent.flowsSince(Number(m[1] ?? 0)));
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end(
        'not found: try GET /status, /access-log, /events, /metrics, /flows?since=N or /trace?from=&to=&port=\n',
      );
    };
    const unix = createServer(onRequest);
    a.removeSocket = await listenUnix(unix, socketPath, opts.mode ?? 0o600);
    a.servers.push(unix);
    if (opts.tcp) {
      const t = createServer(onRequest);
      a.servers.push(t);
      try {
        await new Promise<void>((resolve, reject) => {
          t.once('error', reject);
          // SO_REUSEPORT: an agent taking over binds it beside the old one (docs/upgrades.md).
          t.listen(
            { port: opts.tcp!.port, host: opts.tcp!.host, reusePort: opts.tcp!.port !== 0 },
            resolve,
          );
        });
      } catch (e) {
        a.close();
        throw new Error(`admin API on ${opts.tcp.host}:${opts.tcp.port}: ${(e as Error).message}`);
      }
      const addr = t.address();
      if (addr && typeof addr === 'object')
        a.tcpAddress = { address: addr.address, port: addr.port };
    }
    return a;
  }

  close(): void {
    for (const s of this.servers) s.close();
    this.removeSocket();
  }
}
