// Reading a cluster and its policies from manifest files (for `weft policy trace -f`),
// with the same parser as the agent's manifest source. Rejected objects come
// back as errors naming file, object and field.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isManifestName, parseManifestFile } from '../sources/manifests/index.ts';
import type { ClusterObjects, Namespace, ObjectError, Pod, Service } from '../state/types.ts';
import type { AuthorizationPolicy } from './authz-types.ts';
import type { NetworkPolicy } from './netpol-types.ts';

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
  const namespaces = new Map<string, Namespace>();
  const pods = new Map<string, Pod>();
  const services = new Map<string, Service>();
  const networkPolicies = new Map<string, NetworkPolicy>();
  const authorizationPolicies = new Map<string, AuthorizationPolicy>();
  const errors: ObjectError[] = [];
  for (const file of paths.flatMap(files)) {
    const r = parseManifestFile(file, readFileSync(file, 'utf8'));
    errors.push(...r.errors);
    for (const o of r.objects) {
      if (o.kind === 'Namespace') namespaces.set(o.value.name, o.value);
      else if (o.kind === 'Pod') pods.set(`${o.value.namespace}/${o.value.name}`, o.value);
      else if (o.kind === 'Service') services.set(`${o.value.namespace}/${o.value.name}`, o.value);
      else if (o.kind === 'NetworkPolicy')
        networkPolicies.set(`${o.value.namespace}/${o.value.name}`, o.value);
      else authorizationPolicies.set(`${o.value.namespace}/${o.value.name}`, o.value);
    }
  }
  return {
    cluster: { namespaces, pods, services, networkPolicies, authorizationPolicies },
    errors,
  };
}
