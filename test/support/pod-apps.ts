// Apps in sandbox pods for end-to-end routing tests: the echo backend of
// echo.ts as a pod's server, and a client pod that stays up and runs the
// HTTP/1.1, h2c, gRPC, Upgrade and line-protocol clients of http-client.ts and
// h2-client.ts on request (one JSON line in, one out), so that a connection
// kept alive in the client survives from one request to the next.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { PodPlacement } from '../../agent/src/sandbox/exec.ts';
import type { EchoBehaviour } from './echo.ts';
import type { Answer } from './http-client.ts';

const here = (f: string) => JSON.stringify(fileURLToPath(new URL(f, import.meta.url)));

/** The echo backend on every address of the pod: HTTP/1.1, h2c/gRPC and a line protocol. */
export const echoServer = (
  pod: string,
  ports: { http: number; h2: number; tcp: number },
  behaviour: EchoBehaviour = {},
) => `
const { echoPod } = await import(${here('./echo.ts')});
await echoPod(${JSON.stringify(pod)}, '0.0.0.0', ${JSON.stringify(ports)}, ${JSON.stringify(behaviour)});
console.log('listening');
`;

const driver = `
import { createInterface } from 'node:readline';
const { KeptAlive } = await import(${here('./http-client.ts')});
const h2 = await import(${here('./h2-client.ts')});
const echo = await import(${here('./echo.ts')});
const conns = new Map();
const sessions = new Map();
const http = (c) => {
  const k = c.conn ?? c.host + ':' + c.port;
  if (!conns.has(k)) conns.set(k, new KeptAlive({ host: c.host, port: c.port }));
  return conns.get(k);
};
const session = (c) => {
  const k = c.host + ':' + c.port;
  if (!sessions.has(k)) sessions.set(k, h2.h2Session({ host: c.host, port: c.port }));
  return sessions.get(k);
};
const run = async (c) => {
  const addr = { host: c.host, port: c.port };
  switch (c.op) {
    case 'http': {
      const a = await http(c).send(c.path, c);
      return { status: a.status, headers: a.headers, json: a.json, body: a.json ? undefined : a.body };
    }
    case 'count': {
      // n requests on the connection, one after the other; which pod answered how often.
      const pods = {};
      for (let i = 0; i < c.n; i++) {
        const a = await http(c).send(c.path, c);
        const p = a.json?.pod ?? 'status ' + a.status;
        pods[p] = (pods[p] ?? 0) + 1;
      }
      return { pods };
    }
    case 'rate': {
      // c.rps requests a second for c.ms on kept-alive connections; statuses counted from
      // c.skipMs on (the steady state), and the last Retry-After seen.
      const nodeHttp = await import('node:http');
      const agent = new nodeHttp.Agent({ keepAlive: true, maxSockets: 16 });
      const all = {};
      const steady = {};
      let retryAfter;
      const start = Date.now();
      const pending = [];
      for (let sent = 0; Date.now() - start < c.ms; sent++) {
        const wait = start + (sent * 1000) / c.rps - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const inSteady = Date.now() - start >= c.skipMs;
        const count = (k) => {
          all[k] = (all[k] ?? 0) + 1;
          if (inSteady) steady[k] = (steady[k] ?? 0) + 1;
        };
        pending.push(new Promise((resolve) => {
          const r = nodeHttp.request({ host: c.host, port: c.port, path: c.path, agent }, (res) => {
            if (res.headers['retry-after'] !== undefined) retryAfter = res.headers['retry-after'];
            res.resume();
            res.on('end', () => { count(String(res.statusCode)); resolve(); });
          });
          r.on('error', (e) => { count(e.code ?? 'error'); resolve(); });
          r.end();
        }));
      }
      await Promise.all(pending);
      agent.destroy();
      return { all, steady, retryAfter };
    }
    case 'timed': {
      // n requests on the connection, one after the other: each one's status and time (ms).
      const out = [];
      for (let i = 0; i < c.n; i++) {
        const t = performance.now();
        const a = await http(c).send(c.path, c);
        out.push({ status: a.status, ms: performance.now() - t });
      }
      return { out };
    }
    case 'parallel': {
      // n requests at once, each on a connection of its own: the status each got (0: failed).
      const http = await import('node:http');
      const one = () => new Promise((resolve) => {
        const r = http.request({ host: c.host, port: c.port, path: c.path, agent: false }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode));
        });
        r.on('error', () => resolve(0));
        r.end();
      });
      return { statuses: await Promise.all(Array.from({ length: c.n }, one)) };
    }
    case 'close':
      for (const x of conns.values()) x.close();
      conns.clear();
      for (const s of sessions.values()) s.destroy();
      sessions.clear();
      return {};
    case 'h2': {
      const a = await h2.h2Request(session(c), c.headers);
      return { headers: a.headers, body: a.body.toString() };
    }
    case 'grpc': {
      const body = Buffer.concat(c.messages.map(echo.grpcFrame));
      const a = await h2.h2Request(session(c), { ':method': 'POST', ':path': c.method,
        'content-type': 'application/grpc', te: 'trailers', ...c.headers }, body);
      const status = a.trailers['grpc-status'] ?? a.headers['grpc-status'];
      return { status, messages: echo.grpcMessages(a.body), headers: a.headers, trailers: a.trailers };
    }
    case 'upgrade':
      return h2.upgrade(addr, c.path, c.send);
    case 'first': {
      // A client-first exchange: the line goes out at once; the greeting and the answer come back.
      const net = await import('node:net');
      const s = net.connect(c.port, c.host);
      s.setEncoding('utf8');
      s.write(c.line + '\\n');
      let got = '';
      await new Promise((resolve, reject) => {
        s.on('data', (d) => { got += d; if (got.split('\\n').length >= 3) resolve(); });
        s.once('error', reject);
      });
      s.destroy();
      return { lines: got.trim().split('\\n') };
    }
    case 'line':
      return { lines: await h2.lineProtocol(addr, c.line) };
  }
  throw new Error('unknown op ' + c.op);
};
createInterface({ input: process.stdin }).on('line', async (l) => {
  const c = JSON.parse(l);
  let out;
  try {
    out = { id: c.id, ok: await run(c) };
  } catch (e) {
    out = { id: c.id, error: String(e?.code ?? e?.message ?? e) };
  }
  process.stdout.write(JSON.stringify(out) + '\\n');
});
console.log(JSON.stringify({ ready: true }));
`;

export interface ClientPod {
  http(
    host: string,
    port: number,
    path: string,
    o?: { method?: string; headers?: Record<string, string>; conn?: string },
  ): Promise<Answer>;
  /** `n` requests on one kept-alive connection: each one's status and time in ms. */
  timed(
    host: string,
    port: number,
    path: string,
    n: number,
  ): Promise<{ status: number; ms: number }[]>;
  /** `n` requests on one kept-alive connection: how many each pod answered. */
  count(host: string, port: number, path: string, n: number): Promise<Record<string, number>>;
  h2(
    host: string,
    port: number,
    headers: Record<string, string>,
  ): Promise<{ headers: Record<string, unknown>; body: string }>;
  grpc(
    host: string,
    port: number,
    method: string,
    messages: string[],
    headers?: Record<string, string>,
  ): Promise<{
    status?: string;
    messages: string[];
    headers: Record<string, unknown>;
    trailers: Record<string, unknown>;
  }>;
  upgrade(
    host: string,
    port: number,
    path: string,
    send: string,
  ): Promise<{ head: string; echoed: string }>;
  line(host: string, port: number, line: string): Promise<string[]>;
  /** The line protocol, the client writing its line before the greeting. */
  first(host: string, port: number, line: string): Promise<string[]>;
  /** `rps` requests a second for `ms`: statuses in all and from `skipMs` on, and a Retry-After seen. */
  rate(
    host: string,
    port: number,
    path: string,
    o: { rps: number; ms: number; skipMs: number },
  ): Promise<{
    all: Record<string, number>;
    steady: Record<string, number>;
    retryAfter?: string;
  }>;
  /** `n` requests at once, each on a new connection: the status of each (0: no answer). */
  parallel(host: string, port: number, path: string, n: number): Promise<number[]>;
  /** Closes every connection the client keeps. */
  closeAll(): Promise<void>;
  kill(): void;
}

/** A client app in the pod, driven one command at a time. */
export async function clientPod(pod: PodPlacement): Promise<ClientPod> {
  const joinCgroup = pod.cgroupDir ? `echo $$ > '${pod.cgroupDir}/cgroup.procs' && ` : '';
  const child: ChildProcess = spawn(
    'sh',
    [
      '-c',
      `${joinCgroup}exec nsenter --net='${pod.netnsPath}' '${process.execPath}' --input-type=module -e "$WEFT_SCRIPT"`,
    ],
    { env: { ...process.env, WEFT_SCRIPT: driver }, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  const waiting = new Map<number, { resolve(x: unknown): void; reject(e: Error): void }>();
  let ready: () => void = () => {};
  const up = new Promise<void>((resolve, reject) => {
    ready = resolve;
    child.on('exit', (code) => {
      const e = new Error(`client pod exited (${code}): ${stderr}`);
      reject(e);
      for (const w of waiting.values()) w.reject(e);
    });
  });
  createInterface({ input: child.stdout! }).on('line', (l) => {
    const m = JSON.parse(l) as { ready?: boolean; id: number; ok?: unknown; error?: string };
    if (m.ready) return ready();
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    if (m.error !== undefined) w?.reject(new Error(m.error));
    else w?.resolve(m.ok);
  });
  await up;
  let next = 0;
  // biome-ignore lint/suspicious/noExplicitAny: each command's answer is typed by its method
  const call = (c: Record<string, unknown>): Promise<any> =>
    new Promise((resolve, reject) => {
      const id = next++;
      waiting.set(id, { resolve, reject });
      child.stdin!.write(`${JSON.stringify({ ...c, id })}\n`);
    });
  return {
    http: (host, port, path, o = {}) => call({ op: 'http', host, port, path, ...o }),
    count: async (host, port, path, n) =>
      (await call({ op: 'count', host, port, path, n, conn: 'count' })).pods,
    timed: async (host, port, path, n) =>
      (await call({ op: 'timed', host, port, path, n, conn: 'timed' })).out,
    h2: (host, port, headers) => call({ op: 'h2', host, port, headers }),
    grpc: (host, port, method, messages, headers = {}) =>
      call({ op: 'grpc', host, port, method, messages, headers }),
    upgrade: (host, port, path, send) => call({ op: 'upgrade', host, port, path, send }),
    line: async (host, port, line) => (await call({ op: 'line', host, port, line })).lines,
    first: async (host, port, line) => (await call({ op: 'first', host, port, line })).lines,
    rate: (host, port, path, o) => call({ op: 'rate', host, port, path, ...o }),
    parallel: async (host, port, path, n) =>
      (await call({ op: 'parallel', host, port, path, n })).statuses,
    closeAll: () => call({ op: 'close' }),
    kill: () => child.kill('SIGKILL'),
  };
}
