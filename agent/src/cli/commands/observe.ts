// weft observe: the flows the nodes decided, in the manner of `hubble observe`.

import { adminGet } from '../../admin/index.ts';
import { ADMIN_SOCKET, WEFT_NAMESPACE } from '../../config/index.ts';
import { loadSandboxState } from '../../sandbox/layout/index.ts';
import type { Flow } from '../../telemetry/index.ts';
import { parse, UsageError } from '../args.ts';
import { type FlowOutput, printFlow, useColour } from '../observe/format.ts';
import type { FlowSource } from '../observe/kubernetes.ts';
import { byTime, type FlowFilter, matches, sinceMs } from '../observe/select.ts';

export { formatFlow } from '../observe/format.ts';

export const help = `Usage: weft observe [--sandbox NAME | --admin-socket PATH... | --kubernetes] [filters]
                    [--since DURATION | --last N] [--follow] [-o text|json|yaml]

Shows the flows the nodes' agents decided: every connection the proxies carried
(when it opened, OPENED, and when it ended) or refused, and every connection the
kernel refused (connect() and sk_lookup), with the verdict and the policy that
made it; the flows of every node merged in time order.

Where:
  --sandbox NAME          ask every node of a running sandbox
  --admin-socket PATH     ask this agent (repeatable; default ${ADMIN_SOCKET})
  --kubernetes            ask every agent of the cluster through the API server (its pod proxy
                          to each agent's metrics port, 15020), from anywhere kubectl works
  --kubeconfig FILE       with --kubernetes: this kubeconfig (default: KUBECONFIG, ~/.kube/config)
  --agent-namespace NS    with --kubernetes: where the agents run (default ${WEFT_NAMESPACE})

Filters (all must hold):
  --pod NS/NAME           exactly this pod as the source or the destination
  --from-pod, --to-pod NS/NAME       ... as the source / as the destination
  --namespace NS          a pod (or Service) of this namespace as the source or the destination
  --from-namespace, --to-namespace NS
  --from X, --to X        the source / destination contains X (a namespace/pod, a namespace, an IP)
  --verdict V             allow, deny or audit

Output:
  --since DURATION        only flows of the last DURATION (30s, 5m, 1h30m) or since an RFC 3339 time
  --last N                only the last N flows (of those the filters keep)
  -f, --follow            keep watching for new flows (Ctrl-C to stop)
  -o, --output FORMAT     text (default), json (one flow a line) or yaml (a document per flow)
  --color WHEN            colour verdicts: auto (on a terminal, unless NO_COLOR is set), always, never
`;

/** Flows --last keeps at most (the nodes keep 5,000 each). */
export const MAX_LAST = 100_000;
/** Agents asked at once. */
export const PARALLEL_AGENTS = 16;

async function sourcesOf(values: Record<string, unknown>): Promise<FlowSource[]> {
  if (values.kubernetes) {
    const { loadKubeConfig } = await import('../../sources/kubernetes/index.ts');
    const { kubernetesSources } = await import('../observe/kubernetes.ts');
    return kubernetesSources(
      loadKubeConfig(values.kubeconfig as string | undefined),
      (values['agent-namespace'] as string | undefined) ?? WEFT_NAMESPACE,
    );
  }
  const sockets = values.sandbox
    ? loadSandboxState(values.sandbox as string).nodes.map((n) => n.adminSocket)
    : ((values['admin-socket'] as string[] | undefined) ?? [ADMIN_SOCKET]);
  return sockets.map((s) => ({
    name: s,
    flows: (since) => adminGet<Flow[]>(s, `/flows?since=${since}`),
  }));
}

/** Each source's new flows, PARALLEL_AGENTS at a time. */
async function pollAll(sources: FlowSource[], seen: Map<FlowSource, number>): Promise<Flow[]> {
  const out: Flow[] = [];
  for (let i = 0; i < sources.length; i += PARALLEL_AGENTS) {
    const got = await Promise.all(
      sources.slice(i, i + PARALLEL_AGENTS).map(async (s) => {
        const flows = await s.flows(seen.get(s) ?? 0);
        if (flows.length) seen.set(s, flows[flows.length - 1]!.seq);
        return flows;
      }),
    );
    for (const fs of got) out.push(...fs);
  }
  return byTime(out);
}

export async function run(args: string[]): Promise<number> {
  const { values } = parse('observe', args, {
    sandbox: { type: 'string' },
    'admin-socket': { type: 'string', multiple: true },
    kubernetes: { type: 'boolean', default: false },
    kubeconfig: { type: 'string' },
    'agent-namespace': { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    pod: { type: 'string' },
    'from-pod': { type: 'string' },
    'to-pod': { type: 'string' },
    namespace: { type: 'string' },
    'from-namespace': { type: 'string' },
    'to-namespace': { type: 'string' },
    verdict: { type: 'string' },
    since: { type: 'string' },
    last: { type: 'string' },
    follow: { type: 'boolean', short: 'f', default: false },
    output: { type: 'string', short: 'o', default: 'text' },
    color: { type: 'string', default: 'auto' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  if (values.verdict && !['allow', 'deny', 'audit'].includes(values.verdict))
    throw new UsageError('observe: --verdict takes allow, deny or audit');
  const output = values.output as FlowOutput;
  if (!['text', 'json', 'yaml'].includes(output))
    throw new UsageError('observe: -o takes text, json or yaml');
  if (!['auto', 'always', 'never'].includes(values.color))
    throw new UsageError('observe: --color takes auto, always or never');
  const where = [values.sandbox, values['admin-socket'], values.kubernetes || undefined].filter(
    (x) => x !== undefined,
  );
  if (where.length > 1)
    throw new UsageError('observe: give one of --sandbox, --admin-socket and --kubernetes');
  if (!values.kubernetes && (values.kubeconfig || values['agent-namespace']))
    throw new UsageError('observe: --kubeconfig and --agent-namespace go with --kubernetes');
  for (const k of ['pod', 'from-pod', 'to-pod'] as const) {
    const v = values[k];
    if (v !== undefined && !/^[^/\s]+\/[^/\s]+$/.test(v))
      throw new UsageError(`observe: --${k} takes namespace/name, not ${v}`);
  }
  let since: number | undefined;
  try {
    since = values.since === undefined ? undefined : sinceMs(values.since, Date.now());
  } catch (e) {
    throw new UsageError(`observe: ${(e as Error).message}`);
  }
  const last = values.last === undefined ? undefined : Number(values.last);
  if (last !== undefined && !(Number.isInteger(last) && last > 0 && last <= MAX_LAST))
    throw new UsageError(
      `observe: --last takes a whole number from 1 to ${MAX_LAST}, not ${values.last}`,
    );
  const filter: FlowFilter = {
    from: values.from,
    to: values.to,
    pod: values.pod,
    fromPod: values['from-pod'],
    toPod: values['to-pod'],
    namespace: values.namespace,
    fromNamespace: values['from-namespace'],
    toNamespace: values['to-namespace'],
    verdict: values.verdict as Flow['verdict'] | undefined,
    sinceMs: since,
  };
  const colour = useColour(values.color, !!process.stdout.isTTY, process.env);
  const sources = await sourcesOf(values);
  const seen = new Map<FlowSource, number>();
  const write = (fs: Flow[]) => {
    for (const f of fs) process.stdout.write(printFlow(f, output, colour));
  };
  const first = (await pollAll(sources, seen)).filter((f) => matches(f, filter));
  write(last === undefined ? first : first.slice(-last));
  if (!values.follow) return 0;
  let stop = false;
  process.once('SIGINT', () => {
    stop = true;
  });
  while (!stop) {
    await new Promise((r) => setTimeout(r, 500));
    write((await pollAll(sources, seen)).filter((f) => matches(f, filter)));
  }
  return 0;
}
