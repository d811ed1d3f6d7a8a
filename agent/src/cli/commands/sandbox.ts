// weft sandbox: a cluster on this host (nodes and pods as network namespaces,
// pods with cgroups of their own, one agent per node).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { repoRoot } from '../../datapath/index.ts';
import {
  loadSandboxState,
  restartAgent,
  Sandbox,
  sandboxLayout,
  saveSandboxState,
  statePath,
  teardown,
} from '../../sandbox/index.ts';
import { parse, UsageError } from '../args.ts';

export const help = `Usage: weft sandbox <up|down|status|exec|restart> [options]

  up [--name N] [--nodes N] --manifests DIR [--splice] [--dual-stack]
        Build a sandbox of N nodes (default 2) and run an agent on each. The
        manifests (Namespace, Pod with spec.nodeName node-1..node-N, Service)
        are watched: edits take effect live. --dual-stack gives nodes and pods
        IPv6 addresses too (fd00:10::/32), and Services that ask for it
        (ipFamilyPolicy, ipFamilies) an IPv6 ClusterIP.
  down [--name N]
        Remove every namespace, veth, cgroup, pin and process of the sandbox.
        Safe to repeat, also after a crash.
  status [--name N]
        Nodes, agents, pods with their addresses, services with ClusterIPs.
  exec [--name N] <namespace>/<pod> -- CMD [ARGS...]
        Run CMD inside the pod's network namespace and cgroup.
  restart [--name N] --node NODE [--kill]
        Upgrade the node's agent as a DaemonSet update does: a new agent takes
        over the running one's sockets, the old one drains and exits; returns
        when it is gone. --kill kills the agent instead (as a crash would) and
        starts a new one: pods fail closed until it is up (docs/upgrades.md).

The default name is 'weft'. Needs root and a kernel with BPF.
`;

const nameOpt = {
  name: { type: 'string' as const, default: 'weft' },
  help: { type: 'boolean' as const, short: 'h' },
};

async function up(args: string[]): Promise<number> {
  const { values } = parse('sandbox up', args, {
    ...nameOpt,
    nodes: { type: 'string', default: '2' },
    manifests: { type: 'string' },
    splice: { type: 'boolean', default: false },
    'dual-stack': { type: 'boolean', default: false },
    foreground: { type: 'boolean', default: false },
  });
  if (values.help) return usage();
  if (!values.manifests)
    throw new UsageError("sandbox up: --manifests DIR is required. Run 'weft sandbox --help'.");
  const nodes = Number(values.nodes);
  if (!Number.isInteger(nodes)) throw new UsageError('sandbox up: --nodes takes a whole number');
  const manifests = resolve(values.manifests);
  if (values.foreground) {
    // The controller: stays up, watching the manifests, until down kills it.
    await Sandbox.up({
      name: values.name,
      nodes,
      manifests,
      splice: values.splice,
      dualStack: values['dual-stack'],
      log: (l) => process.stderr.write(`${l}\n`),
    });
    process.stderr.write(`sandbox ${values.name} ready\n`);
    await new Promise(() => {});
  }
  const l = sandboxLayout(values.name);
  mkdirSync(l.stateDir, { recursive: true });
  const log = join(l.stateDir, 'controller.log');
  const fd = openSync(log, 'w');
  const child = spawn(
    process.execPath,
    [
      `${repoRoot}agent/src/cli/main.ts`,
      'sandbox',
      'up',
      '--foreground',
      '--name',
      values.name,
      '--nodes',
      String(nodes),
      '--manifests',
      manifests,
      ...(values.splice ? ['--splice'] : []),
      ...(values['dual-stack'] ? ['--dual-stack'] : []),
    ],
    { detached: true, stdio: ['ignore', fd, fd] },
  );
  child.unref();
  for (let i = 0; i < 600; i++) {
    await new Promise((r) => setTimeout(r, 50));
    if (child.exitCode !== null) {
      const out = spawnSync('tail', ['-n', '20', log], { encoding: 'utf8' }).stdout;
      process.stderr.write(`weft: sandbox ${values.name} failed to come up:\n${out}`);
      return 1;
    }
    if (existsSync(statePath(values.name)) && loadSandboxState(values.name).ready) {
      process.stdout.write(
        `sandbox ${values.name} is up (${nodes} nodes). Try: weft sandbox status --name ${values.name}\n`,
      );
      return 0;
    }
  }
  process.stderr.write(`weft: sandbox ${values.name} not ready after 30 s; see ${log}\n`);
  return 1;
}

function down(args: string[]): number {
  const { values } = parse('sandbox down', args, nameOpt);
  if (values.help) return usage();
  const errors = teardown(values.name).filter((e) => !e.startsWith('state:'));
  for (const e of errors) process.stderr.write(`weft: ${e}\n`);
  if (errors.length === 0) process.stdout.write(`sandbox ${values.name} is down\n`);
  return errors.length ? 1 : 0;
}

function status(args: string[]): number {
  const { values } = parse('sandbox status', args, nameOpt);
  if (values.help) return usage();
  const s = loadSandboxState(values.name);
  const alive = (pid: number | null) => pid !== null && existsSync(`/proc/${pid}`);
  const out = [
    `sandbox ${s.name}: ${s.ready ? 'ready' : 'starting'}, manifests ${s.manifests}`,
    '',
    'NODE     AGENT',
  ];
  for (const n of s.nodes)
    out.push(
      `${n.name.padEnd(8)} ${alive(n.agentPid) ? `running (pid ${n.agentPid})` : 'not running'}`,
    );
  out.push('', `${'POD'.padEnd(32)}NODE     IP`);
  for (const p of s.pods)
    out.push(`${p.key.padEnd(32)}${p.node.padEnd(9)}${p.ip}${p.ip6 ? ` ${p.ip6}` : ''}`);
  out.push('', `${'SERVICE'.padEnd(32)}CLUSTER-IP`);
  for (const [k, ip] of Object.entries(s.services))
    out.push(`${k.padEnd(32)}${(s.clusterIPs?.[k] ?? [ip]).join(' ')}`);
  if (s.problems.length) out.push('', 'problems:', ...s.problems.map((p) => `  ${p}`));
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}

function exec(args: string[]): number {
  const sep = args.indexOf('--');
  if (sep < 0) throw new UsageError("sandbox exec: put the command after '--'");
  const { values, positionals } = parse('sandbox exec', args.slice(0, sep), nameOpt, true);
  if (values.help) return usage();
  const cmd = args.slice(sep + 1);
  if (positionals.length !== 1 || cmd.length === 0) {
    throw new UsageError(
      'sandbox exec: usage: weft sandbox exec <namespace>/<pod> -- CMD [ARGS...]',
    );
  }
  const s = loadSandboxState(values.name);
  const pod = s.pods.find((p) => p.key === positionals[0]);
  if (!pod)
    throw new UsageError(
      `sandbox exec: no pod ${positionals[0]} (pods: ${s.pods.map((p) => p.key).join(', ')})`,
    );
  const r = spawnSync(
    'sh',
    [
      '-c',
      `echo $$ > '${pod.cgroup}/cgroup.procs' && exec nsenter --net='${pod.netns}' "$@"`,
      'sh',
      ...cmd,
    ],
    { stdio: 'inherit' },
  );
  return r.status ?? 1;
}

async function restart(args: string[]): Promise<number> {
  const { values } = parse('sandbox restart', args, {
    ...nameOpt,
    node: { type: 'string' },
    kill: { type: 'boolean', default: false },
  });
  if (values.help) return usage();
  const s = loadSandboxState(values.name);
  const n = s.nodes.find((x) => x.name === values.node);
  if (!n)
    throw new UsageError(
      `sandbox restart: --node is one of ${s.nodes.map((x) => x.name).join(', ')}${values.node ? `, not ${values.node}` : ''}`,
    );
  if (!n.agentArgs) throw new UsageError(`sandbox restart: ${n.name} has no recorded agent`);
  try {
    const r = await restartAgent(n, n.agentArgs, { kill: values.kill });
    process.stdout.write(
      `${n.name}: agent pid ${r.pid} ${values.kill ? 'started after a kill of' : 'took over from'} ${r.oldPid ?? 'none'} (${Math.round(r.handoverMs)} ms)\n`,
    );
    return 0;
  } finally {
    // Re-read: the controller may have written meanwhile; only this node's pid changes.
    const now = loadSandboxState(values.name);
    const m = now.nodes.find((x) => x.name === n.name);
    if (m) m.agentPid = n.agentPid;
    saveSandboxState(now);
  }
}

function usage(): number {
  process.stdout.write(help);
  return 0;
}

export async function run(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'up':
      return up(rest);
    case 'down':
      return down(rest);
    case 'status':
      return status(rest);
    case 'exec':
      return exec(rest);
    case 'restart':
      return restart(rest);
    case undefined:
    case '-h':
    case '--help':
      return usage();
    default:
      throw new UsageError(`sandbox: unknown subcommand '${sub}'. Run 'weft sandbox --help'.`);
  }
}
