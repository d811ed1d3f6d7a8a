// The proxy's L7 front (proxy/inbound-http.ts) on loopback, in process: a listener whose
// connections go to serveHttp as the proxy's inbound sockets do, on a destination side
// of its own (as one node proxy has), and an app behind it reached over loopback
// instead of from a pod's netns. No root needed.
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { InboundL7 } from '../../agent/src/l7/inbound.ts';
import type { InboundLimits } from '../../agent/src/l7/inbound-bounds.ts';
import type { Verdict } from '../../agent/src/proxy/authorize.ts';
import { serveHttp } from '../../agent/src/proxy/inbound-http.ts';
import type { RateLimitTable } from '../../agent/src/tables/rate-limits.ts';
import { AccessLog } from '../../agent/src/telemetry/access-log.ts';
import { Connection } from '../../agent/src/telemetry/connection.ts';
import { DirectionStats } from '../../agent/src/telemetry/stats.ts';
import type { RequestTracing } from '../../agent/src/telemetry/tracing.ts';

export interface HttpFront {
  /** The front's port on 127.0.0.1. */
  readonly port: number;
  /**
   * Connections the app accepted, and how many are open now; refuse(true) sends new
   * dials to a port nobody listens on (the app is down) until refuse(false).
   */
  readonly app: {
    accepted: number;
    open: number;
    sockets: Set<Socket>;
    refuse(on: boolean): void;
  };
  /** The front's destination side, and its end of each client connection. */
  readonly l7: InboundL7;
  readonly clients: ReadonlySet<Socket>;
  close(): Promise<void>;
}

const ALLOW: Verdict = { allow: true, stage: 'AuthorizationPolicy', reason: 'allowed' };
let fronts = 0;

export async function startHttpFront(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  authorize: (req: { method: string; path: string }) => Verdict = () => ALLOW,
  tracing: RequestTracing | null = null,
  rateLimit: RateLimitTable | null = null,
  limits: Partial<InboundLimits> = {},
): Promise<HttpFront> {
  const l7 = new InboundL7(limits);
  const sockets = new Set<Socket>();
  let refusing = false;
  const app = {
    accepted: 0,
    open: 0,
    sockets,
    refuse: (on: boolean) => {
      refusing = on;
    },
  };
  const appServer = createHttpServer(handler);
  appServer.on('connection', (s: Socket) => {
    app.accepted++;
    app.open++;
    sockets.add(s);
    s.on('close', () => {
      app.open--;
      sockets.delete(s);
    });
  });
  await listen(appServer);
  const appPort = (appServer.address() as AddressInfo).port;
  const down = createServer();
  await listen(down);
  const downPort = (down.address() as AddressInfo).port;
  await close(down);
  const stats = new DirectionStats();
  const log = new AccessLog(16);
  const id = `front-${process.pid}-${++fronts}`;
  const clients = new Set<Socket>();
  const front = createServer((conn) => {
    clients.add(conn);
    conn.on('close', () => clients.delete(conn));
    serveHttp(
      l7,
      {
        netnsPath: id,
        ip: '127.0.0.1',
        port: appPort,
        pool: undefined as never,
        conn: new Connection(
          { stats, log, observer: null, registry: null, tracing },
          'inbound',
          'plaintext',
          null,
          conn.remoteAddress ?? null,
          `127.0.0.1:${appPort}`,
          'test/app',
        ),
        authorize,
        rateLimit,
        dial: () => connect(refusing ? downPort : appPort, '127.0.0.1'),
      },
      conn,
    );
  });
  await listen(front);
  return {
    port: (front.address() as AddressInfo).port,
    app,
    l7,
    clients,
    async close() {
      for (const s of [...sockets, ...clients]) s.destroy();
      await Promise.all([close(front), close(appServer)]);
      l7.close();
    },
  };
}

function listen(s: Server | ReturnType<typeof createHttpServer>): Promise<void> {
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
}

function close(s: Server | ReturnType<typeof createHttpServer>): Promise<void> {
  if ('closeAllConnections' in s) s.closeAllConnections();
  return new Promise((resolve) => s.close(() => resolve()));
}
