// weft observe: the flows the nodes decided, in the manner of `hubble observe`.

import { adminGet } from '../../admin/index.ts';
import { ADMIN_SOCKET } from '../../config/index.ts';
import { loadSandboxState } from '../../sandbox/layout/index.ts';
import type { Flow } from '../../telemetry/index.ts';
import { parse, UsageError } from '../args.ts';

export const help = `Usage: weft observe [--sandbox NAME | --admin-socket PATH...] [filters] [--follow] [-o text|json]

Shows the flows the nodes' agents decided: every connection the proxies carried
(when it opened, OPENED, and when it ended) or refused, and every connection the
kernel refused (connect() and sk_lookup), with the verdict and the policy that
made it.

Options:
  --sandbox NAME          ask every node of a running sandbox
  --admin-socket PATH     ask this agent (repeatable; default ${ADMIN_SOCKET})
  --from X                only flows whose source contains X (a namespace/pod, a namespace, an IP)
  --to X                  only flows whose destination contains X
  --verdict V             allow, deny or audit
  -f, --follow            keep watching for new flows (Ctrl-C to stop)
  -o, --output FORMAT     text (default) or json (one flow per line)
`;

function fetchFlows(socketPath: string, since: number): Promise<Flow[]> {
  return adminGet<Flow[]>(socketPath, `/flows?since=${since}`);
}

export function formatFlow(f: Flow): string {
  const verdict =
    f.event === 'open'
      ? 'OPENED '
      : f.verdict === 'deny'
        ? 'DENIED '
        : f.verdict === 'audit'
          ? 'AUDIT  '
          : 'ALLOWED';
  const id = f.identity ? ` [${f.identity}]` : '';
  return `${f.time}  ${f.node.padEnd(7)} ${f.source} → ${f.destination}:${f.port}${id}  ${verdict}  ${f.where}: ${f.reason}`;
}

export async function run(args: string[]): Promise<number> {
  const { values } = parse('observe', args, {
    sandbox: { type: 'string' },
    'admin-socket': { type: 'string', multiple: true },
    from: { type: 'string' },
    to: { type: 'string' },
    verdict: { type: 'string' },
    follow: { type: 'boolean', short: 'f', default: false },
    output: { type: 'string', short: 'o', default: 'text' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  if (values.verdict && !['allow', 'deny', 'audit'].includes(values.verdict)) {
    throw new UsageError('observe: --verdict takes allow, deny or audit');
  }
  if (values.output !== 'text' && values.output !== 'json')
    throw new UsageError('observe: -o takes text or json');
  const sockets = values.sandbox
    ? loadSandboxState(values.sandbox).nodes.map((n) => n.adminSocket)
    : (values['admin-socket'] ?? [ADMIN_SOCKET]);
  const keep = (f: Flow) =>
    (!values.from || f.source.includes(values.from)) &&
    (!values.to || f.destination.includes(values.to)) &&
    (!values.verdict || f.verdict === values.verdict);
  const seen = new Map<string, number>(sockets.map((s) => [s, 0]));
  const poll = async () => {
    const batch: Flow[] = [];
    for (const s of sockets) {
      const flows = await fetchFlows(s, seen.get(s)!);
      if (flows.length) seen.set(s, flows[flows.length - 1]!.seq);
      batch.push(...flows);
    }
    batch.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
    for (const f of batch.filter(keep)) {
      process.stdout.write(
        values.output === 'json' ? `${JSON.stringify(f)}\n` : `${formatFlow(f)}\n`,
      );
    }
  };
  await poll();
  if (!values.follow) return 0;
  let stop = false;
  process.once('SIGINT', () => {
    stop = true;
  });
  while (!stop) {
    await new Promise((r) => setTimeout(r, 500));
    await poll();
  }
  return 0;
}
