// Reading a cluster and its policies from manifest files (for `weft policy trace -f`),
// with the same parser as the agent's manifest source. Rejected objects come
// back as errors naming file, object and field.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterObjects, ObjectError } from '../../state/types.ts';
import {
  isManifestName,
  objectId,
  type ParsedObject,
  parseManifestFile,
  toClusterObjects,
} from './index.ts';

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
  const chosen = new Map<string, ParsedObject>();
  const errors: ObjectError[] = [];
  for (const file of paths.flatMap(files)) {
    const r = parseManifestFile(file, readFileSync(file, 'utf8'));
    errors.push(...r.errors);
    for (const o of r.objects) chosen.set(objectId(o), o);
  }
  return { cluster: toClusterObjects(chosen), errors };
}
