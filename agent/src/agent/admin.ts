// The admin API: GET /status, /access-log, /events and /flows?since=N as JSON, on a unix socket
// (what `weft status` uses) and on 127.0.0.1:15000 in the agent's netns.
import { existsSync, unlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { constants } from '../datapath/layout.ts';
import type { AuthzRequest } from '../policy/authz-types.ts';
import { parseTraceQuery } from '../policy/trace-query.ts';
import type { AgentStatus } from './status.ts';

/** What the admin API serves: the agent implements it. */
export interface AdminSource {
  status(): AgentStatus;
  accessLog(): unknown[];
  datapathEvents(): unknown[];
  flowsSince(seq: number): unknown[];
  trace(q: { from: string; to: string; port: number; http?: AuthzRequest }): unknown;
}

export class AdminServer {
  private readonly servers: Server[] = [];

  static async start(agent: AdminSource, socketPath: string, tcp = true): Promise<AdminServer> {
    const a = new AdminServer();
    const handler = createServer((req, res) => {
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
      const m = /^\/flows(?:\?since=(\d+))?$/.exec(req.url ?? '');
      if (req.method === 'GET' && m) return json(agent.flowsSince(Number(m[1] ?? 0)));
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end(
        'not found: try GET /status, /access-log, /events, /flows?since=N or /trace?from=&to=&port=\n',
      );
    });
    if (existsSync(socketPath)) unlinkSync(socketPath); // left by a killed agent
    await new Promise<void>((resolve, reject) => {
      handler.once('error', reject);
      handler.listen(socketPath, resolve);
    });
    a.servers.push(handler);
    if (tcp) {
      const t = createServer(handler.listeners('request')[0] as never);
      await new Promise<void>((resolve, reject) => {
        t.once('error', reject);
        t.listen(constants.PORT_ADMIN, '127.0.0.1', resolve);
      });
      a.servers.push(t);
    }
    return a;
  }

  close(): void {
    for (const s of this.servers) s.close();
  }
}
