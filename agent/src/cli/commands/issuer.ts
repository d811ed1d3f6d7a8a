// weft issuer: the CA of the mesh. It holds the CA key (nodes never do) and
// signs SVIDs for a node's own pods only.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openCaStore } from '../../issuer/ca-store.ts';
import { IssuerServer } from '../../issuer/server.ts';
import { ManifestSource } from '../../sources/manifests/index.ts';
import { parse, required, UsageError } from '../args.ts';

export const help = `Usage: weft issuer --listen ADDRESS --ca-dir DIR --manifests DIR --node-tokens DIR [options]

Signs X.509-SVIDs (spiffe://<trust-domain>/ns/<ns>/sa/<sa>) for agents. A node,
proving itself with its token, gets identities only of service accounts of
pods scheduled on it (per the manifests).

Options:
  --listen PATH         unix socket path (mode 0600)
  --ca-dir DIR          ca.pem, ca-key.pem, [chain.pem], roots.pem; generated on first start
  --manifests DIR       the cluster's Pods (which node runs which service account)
  --node-tokens DIR     one file per node, named for the node, holding its token
  --trust-domain TD     default cluster.local
  --svid-lifetime SEC   certificate lifetime in seconds (default 86400)

SIGHUP re-reads the CA files: rotate a root by adding the new root to
roots.pem, switching ca.pem/ca-key.pem, sending SIGHUP, and later removing
the old root from roots.pem.
`;

function loadTokens(dir: string): Map<string, string> {
  const tokens = new Map<string, string>();
  for (const node of readdirSync(dir)) {
    if (node.startsWith('.')) continue;
    const token = readFileSync(join(dir, node), 'utf8').trim();
    if (token.length < 16)
      throw new UsageError(`issuer: token of node ${node} is shorter than 16 characters`);
    tokens.set(token, node);
  }
  return tokens;
}

export async function run(args: string[]): Promise<number> {
  const { values } = parse('issuer', args, {
    listen: { type: 'string' },
    'ca-dir': { type: 'string' },
    manifests: { type: 'string' },
    'node-tokens': { type: 'string' },
    'trust-domain': { type: 'string', default: 'cluster.local' },
    'svid-lifetime': { type: 'string', default: '86400' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const lifetime = Number(values['svid-lifetime']);
  if (!Number.isFinite(lifetime) || lifetime < 60)
    throw new UsageError('issuer: --svid-lifetime takes seconds, at least 60');
  const td = values['trust-domain'];
  const store = await openCaStore(required('issuer', values, 'ca-dir'), td);
  const source = new ManifestSource(required('issuer', values, 'manifests'));
  await source.start();
  const server = new IssuerServer({
    store,
    trustDomain: td,
    tokens: loadTokens(required('issuer', values, 'node-tokens')),
    lifetimeMs: lifetime * 1000,
    cluster: () => source.current(),
    audit: (l) => process.stderr.write(`weft issuer: ${l}\n`),
  });
  await server.listen(required('issuer', values, 'listen'));
  process.on('SIGHUP', () => {
    store.reload().then(
      () => process.stderr.write('weft issuer: CA reloaded\n'),
      (e: Error) =>
        process.stderr.write(`weft issuer: CA reload failed, keeping the old one: ${e.message}\n`),
    );
  });
  process.stderr.write(`weft issuer: listening on ${values.listen}, trust domain ${td}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  server.close();
  source.close();
  process.exit(0);
}
