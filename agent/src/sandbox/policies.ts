// Policies pass through the sandbox untouched: their documents are copied from
// the user's manifests into the resolved directory the agents watch, one file
// per source file, so a rejected policy is reported with its own name and field.
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

const POLICY_KINDS = new Set(['NetworkPolicy', 'AuthorizationPolicy']);

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
      docs = parseAllDocuments(readFileSync(file, 'utf8'))
        .filter((d) => POLICY_KINDS.has(String((d.toJS() as { kind?: unknown } | null)?.kind)))
        .map((d) => d.toString());
    } catch {
      continue; // unreadable or not YAML: the sandbox's own source reports it
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
