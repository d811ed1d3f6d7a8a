// weft CLI entry: parses the command line and dispatches. A command is listed
// here only once it works.
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LAYOUT_VERSION } from '../tables/index.ts';
import { UsageError } from './args.ts';

// Commands load when run: each pulls in only what it needs (the Kubernetes client alone
// would add tens of MiB to every agent and every `weft status`).
const load =
  (m: () => Promise<{ run(args: string[]): number | Promise<number> }>) => async (args: string[]) =>
    (await m()).run(args);

interface Command {
  summary: string;
  run(args: string[]): number | Promise<number>;
}

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

export const commands: Record<string, Command> = {
  agent: {
    summary: 'Run the node agent (BPF datapath and node proxy) in the foreground',
    run: load(() => import('./commands/agent.ts')),
  },
  check: {
    summary: 'Check that this host (--pre) and its running agent can run weft, like linkerd check',
    run: load(() => import('./commands/check.ts')),
  },
  graph: {
    summary: "Draw who talks to whom from the nodes' metrics: requests, errors, connections, mTLS",
    run: load(() => import('./commands/graph.ts')),
  },
  issuer: {
    summary: 'Run the mesh CA: signs SVIDs for the pods of the asking node only',
    run: load(() => import('./commands/issuer.ts')),
  },
  observe: {
    summary: 'Show the flows the nodes allowed, denied and audited, and why (like hubble observe)',
    run: load(() => import('./commands/observe.ts')),
  },
  policy: {
    summary: 'policy trace: explain, stage by stage, why a connection is allowed or denied',
    run: load(() => import('./commands/policy.ts')),
  },
  probe: {
    summary: "Ask this container's agent whether it is ready or live (the exec readiness probe)",
    run: load(() => import('./commands/probe.ts')),
  },
  sandbox: {
    summary: 'A cluster on this host: up, down, status, exec',
    run: load(() => import('./commands/sandbox.ts')),
  },
  status: {
    summary: "Show a node's enrolled workloads, listeners and proxy counters",
    run: load(() => import('./commands/status.ts')),
  },
  version: {
    summary: 'Print the weft version, the BPF map-layout version and the Node runtime',
    run() {
      process.stdout.write(
        `weft ${pkg.version} (map layout ${LAYOUT_VERSION}, node ${process.version})\n`,
      );
      return 0;
    },
  },
};

export function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  const list = Object.entries(commands)
    .map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
    .join('\n');
  return `weft: a sidecarless service mesh (eBPF redirection, one mTLS proxy per node)

Usage: weft <command> [options]

Commands:
${list}

Options:
  -h, --help     Show this help
  -V, --version  Same as the version command
`;
}

export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '-h' || first === '--help' || first === 'help') {
    process.stdout.write(usage());
    return first === undefined ? 2 : 0;
  }
  if (first === '-V' || first === '--version') return commands.version!.run([]);
  const cmd = commands[first];
  if (!cmd) {
    process.stderr.write(`weft: unknown command '${first}'. Run 'weft --help' for the list.\n`);
    return 2;
  }
  return cmd.run(rest);
}

const entry = process.argv[1];
if (entry && realpathSync(entry) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: Error) => {
      process.stderr.write(`weft: ${err.message}\n`);
      process.exitCode = err instanceof UsageError ? 2 : 1;
    },
  );
}
