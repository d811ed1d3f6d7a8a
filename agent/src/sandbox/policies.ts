// Policies, rate limits, Gateway API routes, the HTTPFaults they name and DestinationRules pass
// through the sandbox untouched: their documents are copied from the user's manifests into the
// resolved directory the agents watch, one file per source file, so a rejected one is reported
// with its own name and field.
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { isManifestName } from '../sources/manifests/index.ts';

const POLICY_KINDS = new Set([
  'NetworkPolicy',
  'AuthorizationPolicy',
  'HTTPRoute',
  'GRPCRoute',
  'ReferenceGrant',
  'HTTPLocalRateLimitPolicy',
  'HTTPFault',
  'DestinationRule',
]);

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => !e.name.startsWith('.'))
    .flatMap((e) =>
      e.isDirectory()
        ? files(join(dir, e.name))
        : isManifestName(e.name)
          ? [join(dir, e.name)]
          : [],
    );
}

export function copyPolicies(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  const keep = new Set<string>();
  for (const file of files(from)) {
    let docs: string[];
    try {
      const text = readFileSync(file, 'utf8');
      const all = parseAllDocuments(text);
      // Not YAML: passed on as it is, so the agents keep its last good state and say why,
      // as they would watching the file themselves (dropping it would lift its policies).
      if (all.some((d) => d.errors.length > 0)) docs = [text];
      else
        docs = all
          .filter((d) => POLICY_KINDS.has(String((d.toJS() as { kind?: unknown } | null)?.kind)))
          .map((d) => d.toString());
    } catch {
      continue; // unreadable: the sandbox's own source reports it
    }
    if (docs.length === 0) continue;
    const name = relative(from, file).replace(/[/\\]/g, '__');
    keep.add(name);
    const out = join(to, name);
    writeFileSync(`${out}.tmp`, docs.join('---\n'));
    renameSync(`${out}.tmp`, out);
  }
  for (const f of existsSync(to) ? readdirSync(to) : [])
    if (!keep.has(f)) rmSync(join(to, f), { force: true });
}
