// Reading a cluster and its policies from manifest files (for `weft policy trace -f`),
// with the same parser as the agent's manifest source. Rejected objects come
// back as errors naming file, object and field.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterObjects, ObjectError } from '../../state/index.ts';
import { LastGood } from './merge.ts';
import { type ParseResult, parseManifestFile } from './parse.ts';
import { isManifestName } from './source.ts';

function files(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { withFileTypes: true })
    .filter((e) => !e.name.startsWith('.'))
    .flatMap((e) =>
      e.isDirectory()
        ? files(join(path, e.name))
        : isManifestName(e.name)
          ? [join(path, e.name)]
          : [],
    )
    .sort();
}

export function loadManifests(paths: readonly string[]): {
  cluster: ClusterObjects;
  errors: ObjectError[];
} {
  // The agent's own merge, once: a policy it would enforce as its fail-closed stand-in is
  // traced as that stand-in, and its errors say so (failsClosed).
  const parsed = new Map<string, ParseResult>();
  for (const file of paths.flatMap(files))
    parsed.set(file, parseManifestFile(file, readFileSync(file, 'utf8')));
  const r = new LastGood().apply(parsed);
  return { cluster: r.snapshot, errors: r.errors };
}
