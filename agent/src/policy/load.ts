// Reading a cluster and its policies from manifest files (for `weft policy trace -f`):
// every file's Namespaces, Pods and Services through the manifest parser, and
// its NetworkPolicies and AuthorizationPolicies through theirs. Rejected objects
// come back as errors naming file, object and field.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isManifestName, parseManifestFile } from '../sources/manifests/index.ts';
import type { Namespace, ObjectError, Pod, Service } from '../state/types.ts';
import { isAuthorizationPolicy, parseAuthorizationPolicy } from './authz-parse.ts';
import type { AuthorizationPolicy } from './authz-types.ts';
import { parseNetworkPolicy } from './netpol-parse.ts';
import type { NetworkPolicy } from './netpol-types.ts';

export interface LoadedManifests {
  namespaces: Map<string, Namespace>;
  pods: Map<string, Pod>;
  services: Map<string, Service>;
  networkPolicies: NetworkPolicy[];
  authorizationPolicies: AuthorizationPolicy[];
  errors: ObjectError[];
}

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

export function loadManifests(paths: readonly string[]): LoadedManifests {
  const out: LoadedManifests = {
    namespaces: new Map(),
    pods: new Map(),
    services: new Map(),
    networkPolicies: [],
    authorizationPolicies: [],
    errors: [],
  };
  for (const file of paths.flatMap(files)) {
    const r = parseManifestFile(file, readFileSync(file, 'utf8'));
    out.errors.push(...r.errors);
    for (const o of r.objects) {
      if (o.kind === 'Namespace') out.namespaces.set(o.value.name, o.value);
      else if (o.kind === 'Pod') out.pods.set(`${o.value.namespace}/${o.value.name}`, o.value);
      else out.services.set(`${o.value.namespace}/${o.value.name}`, o.value);
    }
    r.ignored.forEach((ig, i) => {
      if (ig.kind === 'NetworkPolicy') {
        const p = parseNetworkPolicy(file, ig.object, i);
        out.errors.push(...p.errors);
        if (p.policy) out.networkPolicies.push(p.policy);
      } else if (isAuthorizationPolicy(ig.object)) {
        const p = parseAuthorizationPolicy(file, ig.object, i);
        out.errors.push(...p.errors);
        if (p.policy) out.authorizationPolicies.push(p.policy);
      }
    });
  }
  return out;
}
