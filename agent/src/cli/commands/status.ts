// weft status: what one node's agent has enrolled and is listening for.

import { fetchStatus } from '../../admin/index.ts';
import { ADMIN_SOCKET } from '../../config/index.ts';
import { loadSandboxState } from '../../sandbox/layout/index.ts';
import { formatStatus } from '../../telemetry/index.ts';
import { parse, UsageError } from '../args.ts';

export const help = `Usage: weft status [--admin-socket PATH | --sandbox NAME --node NODE] [-o text|json]

Shows, for one node, the enrolled workloads, their listeners and the proxy's counters.

Options:
  --admin-socket PATH   the agent's admin socket (default ${ADMIN_SOCKET})
  --sandbox NAME        ask a node of a running sandbox (with --node)
  --node NODE           the sandbox node to ask
  -o, --output FORMAT   text (default) or json
`;

export async function run(args: string[]): Promise<number> {
  const { values } = parse('status', args, {
    'admin-socket': { type: 'string' },
    sandbox: { type: 'string' },
    node: { type: 'string' },
    output: { type: 'string', short: 'o', default: 'text' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  if (values.output !== 'text' && values.output !== 'json')
    throw new UsageError('status: -o takes text or json');
  let socket = values['admin-socket'] ?? ADMIN_SOCKET;
  if (values.sandbox) {
    const state = loadSandboxState(values.sandbox);
    const node = state.nodes.find((n) => n.name === values.node);
    if (!node) {
      throw new UsageError(
        `status: sandbox ${values.sandbox} has nodes ${state.nodes.map((n) => n.name).join(', ')}; pick one with --node`,
      );
    }
    socket = node.adminSocket;
  }
  const s = await fetchStatus(socket);
  process.stdout.write(
    values.output === 'json' ? `${JSON.stringify(s, null, 2)}\n` : formatStatus(s),
  );
  return 0;
}
