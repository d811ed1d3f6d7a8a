// weft check: can this host run weft, and is its agent healthy? One verdict a line.

import {
  exitCode,
  realHost,
  renderText,
  runChecks,
  selectChecks,
  toJson,
} from '../../check/index.ts';
import { ADMIN_SOCKET, PIN_ROOT } from '../../config/index.ts';
import { repoRoot } from '../../datapath/index.ts';
import { parse, UsageError } from '../args.ts';

export const help = `Usage: weft check [--pre] [options]

Checks that this host can run weft: kernel version and features, cgroup v2 and
bpffs, capabilities, and that each of weft's BPF objects loads (and is unloaded
again: nothing is pinned or attached). Without --pre it also checks the running
agent: its admin socket and its pinned maps. Works on a Kubernetes node or a plain host.

Exit status: 0 when nothing failed (warnings allowed), 1 when a check failed, 2 on usage errors.

Options:
  --pre                 only what can be checked before the agent is installed
  --admin-socket PATH   the agent's admin socket (default ${ADMIN_SOCKET})
  --bpffs DIR           the agent's pin directory (default ${PIN_ROOT})
  --bpf-dir DIR         the compiled BPF objects to probe (default build/bpf of this install)
  -o, --output FORMAT   text (default) or json
`;

export async function run(args: string[]): Promise<number> {
  const { values } = parse('check', args, {
    pre: { type: 'boolean', default: false },
    'admin-socket': { type: 'string', default: ADMIN_SOCKET },
    bpffs: { type: 'string', default: PIN_ROOT },
    'bpf-dir': { type: 'string', default: `${repoRoot}build/bpf` },
    output: { type: 'string', short: 'o', default: 'text' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  if (values.output !== 'text' && values.output !== 'json')
    throw new UsageError('check: -o takes text or json');
  const host = realHost();
  const bpfDir = values['bpf-dir'].replace(/\/+$/, '');
  const checks = selectChecks(values.pre, bpfDir, host.bpfObjects(bpfDir));
  const ran = await runChecks(checks, {
    host,
    options: { pre: values.pre, adminSocket: values['admin-socket'], bpffs: values.bpffs },
  });
  const colour = process.stdout.isTTY === true && !process.env.NO_COLOR;
  process.stdout.write(
    values.output === 'json'
      ? `${JSON.stringify(toJson(ran), null, 2)}\n`
      : renderText(ran, colour),
  );
  return exitCode(ran);
}
