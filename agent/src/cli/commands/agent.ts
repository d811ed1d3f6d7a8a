// weft agent: runs one node's agent in the foreground until SIGTERM/SIGINT.
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { AdminServer } from '../../agent/admin.ts';
import { Agent } from '../../agent/agent.ts';
import { parse, required } from '../args.ts';

export const help = `Usage: weft agent --node NAME --manifests DIR --cgroup-root DIR [options]

Runs the node agent: attaches weft's BPF programs at --cgroup-root, enrolls the
pods the manifests place on --node, and runs the node proxy.

Options:
  --node NAME           this node's name (pods with spec.nodeName NAME are ours)
  --manifests DIR       directory of Kubernetes-format YAML (Namespace, Pod, Service)
  --cgroup-root DIR     cgroup v2 directory holding the node's pods (never the host root in tests)
  --bpffs DIR           pin directory (default /sys/fs/bpf/weft)
  --admin-socket PATH   admin API socket (default /run/weft/agent.sock)
  --no-admin-tcp        do not listen on 127.0.0.1:15000
  --splice              splice app<->proxy loopback hops with sockops/sk_msg
  --issuer PATH         the issuer's unix socket; enables mTLS (HBONE)
  --issuer-token-file F this node's credential for the issuer
  --trust-domain TD     SPIFFE trust domain (default cluster.local)
`;

export async function run(args: string[]): Promise<number> {
  const { values } = parse('agent', args, {
    node: { type: 'string' },
    manifests: { type: 'string' },
    'cgroup-root': { type: 'string' },
    bpffs: { type: 'string', default: '/sys/fs/bpf/weft' },
    'admin-socket': { type: 'string', default: '/run/weft/agent.sock' },
    'no-admin-tcp': { type: 'boolean', default: false },
    splice: { type: 'boolean', default: false },
    issuer: { type: 'string' },
    'issuer-token-file': { type: 'string' },
    'trust-domain': { type: 'string', default: 'cluster.local' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const agent = new Agent({
    node: required('agent', values, 'node'),
    manifests: required('agent', values, 'manifests'),
    cgroupRoot: required('agent', values, 'cgroup-root'),
    pinRoot: values.bpffs,
    splice: values.splice,
    trustDomain: values['trust-domain'],
    issuer: values.issuer
      ? {
          address: values.issuer,
          token: readFileSync(required('agent', values, 'issuer-token-file'), 'utf8').trim(),
        }
      : undefined,
  });
  await agent.start();
  mkdirSync(dirname(values['admin-socket']), { recursive: true });
  const admin = await AdminServer.start(agent, values['admin-socket'], !values['no-admin-tcp']);
  process.stderr.write(`weft agent: node ${values.node} ready\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  admin.close();
  await agent.stop();
  // Established proxied connections would keep the loop alive; an agent told to stop exits.
  process.exit(0);
}
