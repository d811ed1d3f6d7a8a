// A client app for L7 tests: HTTP/1.1 requests over one kept-alive connection.
import { Agent, request } from 'node:http';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  trailers: Record<string, string | undefined>;
  body: string;
  // biome-ignore lint/suspicious/noExplicitAny: the echo's JSON, read by each test
  json: any;
}

export class KeptAlive {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });
  private readonly host: string;
  private readonly port: number;

  constructor(addr: { host: string; port: number }) {
    this.host = addr.host;
    this.port = addr.port;
  }

  send(
    path: string,
    o: { method?: string; headers?: Record<string, string>; body?: string } = {},
  ): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const r = request(
        {
          host: this.host,
          port: this.port,
          path,
          method: o.method ?? 'GET',
          headers: { host: 'echo.shop', ...o.headers },
          agent: this.agent,
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d) => {
            body += d;
          });
          res.on('end', () => {
            let json: unknown;
            try {
              json = JSON.parse(body);
            } catch {
              json = undefined;
            }
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              trailers: res.trailers,
              body,
              json,
            });
          });
          res.on('error', reject);
        },
      );
      r.on('error', reject);
      r.end(o.body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
