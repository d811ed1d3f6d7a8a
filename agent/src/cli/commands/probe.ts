// weft probe ready|live: the pod's exec readiness probe. It asks the agent over the unix
// socket the agent serves in its container's own /tmp (--health-socket), so during an update
// it reaches this container's agent only, never the other agent sharing the node's :15021
// (docs/upgrades.md). Exit 0 on 200, else 1 with one line the kubelet shows in the event.

import { statSync } from 'node:fs';
import { request } from 'node:http';
import { HEALTH_SOCKET } from '../../config/index.ts';
import { parse, secondsOption, UsageError } from '../args.ts';

export const help = `Usage: weft probe <ready|live> [options]

Asks this container's agent whether it is ready (or live), over the unix socket the
agent serves with --health-socket; for a Kubernetes exec readiness probe. On the
container's own filesystem the socket reaches only this container's agent: during an
update the node's :15021 is answered by the old agent as well as the new one, and the
old one's 200 must not make the new pod ready.

Exits 0 when the agent answers 200; else 1, with one line saying why (no socket yet:
the agent has not started; not ready: the agent's own reason; no answer in time);
2 for a usage error.

Options:
  --socket PATH   the agent's --health-socket (default ${HEALTH_SOCKET})
  --timeout S     give up after S seconds, from 0.1 to 60 (default 1)
`;

const DEFAULT_TIMEOUT_MS = 1000;
/** The agent's answers are one short line; more is not an agent's. */
const MAX_BODY = 1024;

export interface ProbeResult {
  ok: boolean;
  /** One line: the agent's answer, or why there is none. */
  line: string;
}

/** Asks the agent on socket for /healthz/<what>; never rejects. */
export function probe(
  socket: string,
  what: 'ready' | 'live',
  timeoutMs: number,
): Promise<ProbeResult> {
  // A socket file is what an agent leaves; anything else is a wrong --socket.
  try {
    if (!statSync(socket).isSocket())
      return Promise.resolve({
        ok: false,
        line: `${socket} is not a socket (give the agent's --health-socket)`,
      });
  } catch (e) {
    return Promise.resolve({ ok: false, line: unreachable(socket, e as NodeJS.ErrnoException) });
  }
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: ProbeResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve(r);
    };
    const timer = setTimeout(
      () =>
        finish({
          ok: false,
          line: `no answer from the agent on ${socket} within ${timeoutMs / 1000} s`,
        }),
      timeoutMs,
    );
    const req = request({ socketPath: socket, path: `/healthz/${what}`, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
        if (body.length > MAX_BODY)
          finish({
            ok: false,
            line: `not a weft agent on ${socket}: an answer over ${MAX_BODY} bytes`,
          });
      });
      res.on('error', (e) => finish({ ok: false, line: `${socket}: ${e.message}` }));
      res.on('end', () => {
        const said = body.split('\n')[0]!.trim() || '(empty)';
        if (res.statusCode === 200) finish({ ok: true, line: said });
        else if (res.statusCode === 503) finish({ ok: false, line: `not ${what}: ${said}` });
        else
          finish({ ok: false, line: `not a weft agent on ${socket}: ${res.statusCode} ${said}` });
      });
    });
    req.on('error', (e: NodeJS.ErrnoException) =>
      finish({
        ok: false,
        line: e.code?.startsWith('HPE_')
          ? `not a weft agent on ${socket}: ${e.message}`
          : unreachable(socket, e),
      }),
    );
    req.end();
  });
}

function unreachable(socket: string, e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'ENOENT':
      return `agent not started: no socket at ${socket}`;
    case 'ECONNREFUSED':
      return `agent not running: nothing listens on ${socket}`;
    case 'EACCES':
      return `${socket}: permission denied (the socket is its agent's user's only)`;
    default:
      return `${socket}: ${e.message}`;
  }
}

export async function run(args: string[]): Promise<number> {
  const [what, ...rest] = args;
  if (what === undefined || what === '-h' || what === '--help') {
    process.stdout.write(help);
    return what === undefined ? 2 : 0;
  }
  if (what !== 'ready' && what !== 'live')
    throw new UsageError(`probe: unknown subcommand '${what}'. Run 'weft probe --help'.`);
  const { values } = parse(`probe ${what}`, rest, {
    socket: { type: 'string', default: HEALTH_SOCKET },
    timeout: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const timeoutMs =
    secondsOption(`probe ${what}`, values, 'timeout', 0.1, 60) ?? DEFAULT_TIMEOUT_MS;
  if (values.socket === '') throw new UsageError(`probe ${what}: --socket takes a path`);
  const r = await probe(values.socket, what, timeoutMs);
  if (r.ok) process.stdout.write(`${r.line}\n`);
  else process.stderr.write(`weft probe: ${r.line}\n`);
  return r.ok ? 0 : 1;
}
