// weft policy trace: why a connection (or an HTTP request) is allowed or denied,
// stage by stage, from manifests.

import { adminGet } from '../../admin/index.ts';
import { ADMIN_SOCKET, TRUST_DOMAIN, WEFT_NAMESPACE } from '../../config/index.ts';
import { type Trace, tracePolicy, traceQueryString, traceRequest } from '../../policy/index.ts';
import { loadSandboxState } from '../../sandbox/layout/index.ts';
import { loadManifests } from '../../sources/manifests/index.ts';
import { parse, UsageError } from '../args.ts';

export const help = `Usage: weft policy trace --from NS/POD --to NS/POD|NS/svc/NAME --port N -f FILE|DIR [options]

Explains, stage by stage, whether a connection is allowed: enrollment, Service,
egress NetworkPolicy, mTLS identity, ingress NetworkPolicy, AuthorizationPolicy
DENY / ALLOW / AUDIT, and the HTTP request when --http is given. Each stage names
the object and rule index that decided it. An HTTP request to a Service that
HTTPRoutes or GRPCRoutes bind is explained route by route first (which rule
matched and why each other did not, the filters, the injected faults, the retry
policy, timeouts and retry budget, every backend with its weight and endpoints),
then followed to the backend with the largest share, as that
backend receives it; --live adds the rule this node's installed tables pick.

Options:
  --from NS/POD           the client pod
  --to TARGET             NS/POD, or NS/svc/NAME for a Service (egress judged per endpoint,
                          then traced to the first allowed one)
  --port N                destination port (the Service port for a Service)
  --protocol P            tcp (default) or udp; UDP is policed in the kernel only
                          (NetworkPolicy, strict mTLS by source address)
  --http METHOD PATH      trace an HTTP request, e.g. --http GET /cart
  -H, --header NAME:VALUE request header (repeatable)
  -f, --file PATH         manifest file or directory (repeatable): trace offline
  --live                  ask the running agents instead, and add what the BPF maps
                          installed on the nodes of both pods say
  --sandbox NAME          with --live: the sandbox whose agents to ask
  --admin-socket PATH     with --live: the agent to ask (default ${ADMIN_SOCKET})
  --trust-domain TD       default ${TRUST_DOMAIN}
  --root-namespace NS     where mesh-wide AuthorizationPolicies live (default ${WEFT_NAMESPACE})
  -o, --output FORMAT     text (default) or json; json has a top-level verdict and stages
`;

export function formatTrace(t: Trace): string {
  const w = Math.max(...t.stages.map((s) => s.stage.length));
  const lines = [`${t.from} → ${t.to} port ${t.port}/${t.protocol ?? 'TCP'}`, ''];
  t.stages.forEach((s, i) => {
    const by = s.object ? ` [${s.object}${s.rule !== undefined ? ` rule ${s.rule}` : ''}]` : '';
    lines.push(
      `${String(i + 1).padStart(2)}. ${s.stage.padEnd(w)}  ${s.result.toUpperCase().padEnd(5)}  ${s.reason}${by}`,
    );
  });
  lines.push('', `verdict: ${t.verdict.toUpperCase()}`);
  return `${lines.join('\n')}\n`;
}

export async function run(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '-h' || sub === '--help') {
    process.stdout.write(help);
    return 0;
  }
  if (sub !== 'trace')
    throw new UsageError(`policy: unknown subcommand '${sub}'. Run 'weft policy --help'.`);
  // --http takes two values; parseArgs takes one, so it is picked out first.
  const argv = [...rest];
  let http: { method: string; path: string } | undefined;
  const h = argv.indexOf('--http');
  if (h >= 0) {
    const [method, path] = argv.splice(h, 3).slice(1);
    if (!method || !path)
      throw new UsageError('policy trace: --http takes a method and a path, e.g. --http GET /cart');
    http = { method, path };
  }
  const { values } = parse('policy trace', argv, {
    from: { type: 'string' },
    to: { type: 'string' },
    port: { type: 'string' },
    protocol: { type: 'string', default: 'tcp' },
    header: { type: 'string', short: 'H', multiple: true },
    file: { type: 'string', short: 'f', multiple: true },
    live: { type: 'boolean', default: false },
    sandbox: { type: 'string' },
    'admin-socket': { type: 'string' },
    'trust-domain': { type: 'string', default: TRUST_DOMAIN },
    'root-namespace': { type: 'string', default: WEFT_NAMESPACE },
    output: { type: 'string', short: 'o', default: 'text' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  if (!values.from || !values.to || !values.port)
    throw new UsageError('policy trace: --from, --to and --port are required');
  if (!values.live && !values.file?.length) {
    throw new UsageError(
      'policy trace: give the manifests with -f FILE|DIR, or ask the agents with --live',
    );
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new UsageError('policy trace: --port takes 1-65535');
  const protocol = values.protocol.toUpperCase();
  if (protocol !== 'TCP' && protocol !== 'UDP')
    throw new UsageError(
      `policy trace: --protocol takes tcp or udp, found '${values.protocol}' (weft polices TCP and UDP only; NetworkPolicy rules for SCTP are refused)`,
    );
  if (values.output !== 'text' && values.output !== 'json')
    throw new UsageError('policy trace: -o takes text or json');
  const headers: Record<string, string> = {};
  for (const hv of values.header ?? []) {
    const i = hv.indexOf(':');
    if (i <= 0) throw new UsageError(`policy trace: header '${hv}' is not NAME:VALUE`);
    headers[hv.slice(0, i).trim().toLowerCase()] = hv.slice(i + 1).trim();
  }
  // One request for both ways of tracing, so the agents answer the same question.
  const request = http ? traceRequest(http, headers, values.to) : undefined;
  if (values.live) {
    const q = traceQueryString({
      from: values.from,
      to: values.to,
      port,
      ...(protocol === 'UDP' ? { protocol: 'UDP' as const } : {}),
      ...(request ? { http: request } : {}),
    });
    const trace = await liveTrace(
      q,
      values.sandbox,
      values['admin-socket'],
      values.from,
      values.to,
    );
    process.stdout.write(
      values.output === 'json' ? `${JSON.stringify(trace, null, 2)}\n` : formatTrace(trace),
    );
    return 0;
  }
  const m = loadManifests(values.file ?? []);
  for (const e of m.errors)
    process.stderr.write(
      `weft: ${e.file}: ${e.object}: ${e.field || '(document)'}: ${e.message}${e.failsClosed ? (e.object.startsWith('NetworkPolicy') ? ' (the policy fails closed: the pods it selects are isolated with nothing it would allow)' : ' (the policy fails closed: it denies all traffic to the workloads it selects)') : ''}\n`,
    );
  // A policy failing closed is enforced (as a deny), so the trace can explain it; a rejected one is not.
  if (m.errors.some((e) => !e.failsClosed)) {
    process.stderr.write(
      'weft: policy trace refuses to explain a set of manifests with rejected objects\n',
    );
    return 1;
  }
  const trace = tracePolicy({
    cluster: m.cluster,
    trustDomain: values['trust-domain'],
    rootNamespace: values['root-namespace'],
    from: values.from,
    to: values.to,
    port,
    protocol,
    ...(request ? { http: request } : {}),
  });
  process.stdout.write(
    values.output === 'json' ? `${JSON.stringify(trace, null, 2)}\n` : formatTrace(trace),
  );
  return 0;
}

function ask(socketPath: string, q: URLSearchParams): Promise<Trace> {
  return adminGet<Trace>(socketPath, `/trace?${q}`);
}

/** Asks the agent of the source's node, and adds the destination node's installed view. */
async function liveTrace(
  q: URLSearchParams,
  sandbox: string | undefined,
  socket: string | undefined,
  from: string,
  to: string,
): Promise<Trace> {
  if (!sandbox) return ask(socket ?? ADMIN_SOCKET, q);
  const state = loadSandboxState(sandbox);
  const nodeOf = (key: string) => state.pods.find((p) => p.key === key)?.node;
  const sock = (node: string | undefined) =>
    state.nodes.find((n) => n.name === node)?.adminSocket ?? state.nodes[0]!.adminSocket;
  const base = await ask(sock(nodeOf(from)), q);
  const dstNode = nodeOf(to);
  if (!dstNode || dstNode === nodeOf(from)) return base;
  const far = await ask(sock(dstNode), q);
  // The destination's kernel view; routes are the client node's to pick, already in base.
  const stages = [
    ...base.stages,
    ...far.stages.filter((s) => s.stage.includes('installed on') && !s.stage.startsWith('route')),
  ];
  return { ...base, stages, verdict: stages.some((s) => s.result === 'deny') ? 'deny' : 'allow' };
}
