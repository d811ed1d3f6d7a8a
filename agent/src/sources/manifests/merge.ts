// A directory's parse results → one snapshot, keeping the last good state: a
// mistake in a file must not take working objects out of the mesh. Pure.
import { isDeepStrictEqual } from 'node:util';
import type {
  AuthorizationPolicy,
  ClusterObjects,
  DestinationRule,
  HttpFault,
  HttpLocalRateLimitPolicy,
  Namespace,
  NetworkPolicy,
  ObjectError,
  Pod,
  ReferenceGrant,
  Route,
  Service,
  Snapshot,
} from '../../state/index.ts';
import { objectId, type ParsedObject, type ParseResult } from './parse.ts';

export interface MergeResult {
  /** The same object as before when nothing changed. */
  readonly snapshot: Snapshot;
  /** Every current error, grouped by file in path order. */
  readonly errors: ObjectError[];
  /** The version moved: the snapshot is worth publishing. */
  readonly changed: boolean;
}

/**
 * Rules, applied to the whole directory each time:
 * - a broken file (YAML syntax, unreadable) contributes what it held at its last good parse;
 * - a rejected object keeps the version last published under its identity, if any; a
 *   rejected AuthorizationPolicy or NetworkPolicy without one is enforced as its
 *   fail-closed stand-in (denying what it selects), and its errors say so (`failsClosed`);
 * - a file that is no longer listed contributes nothing;
 * - an identity claimed twice is an error on the later claim (files in path order, then
 *   valid objects before rejected ones within a file), and the first claim wins;
 * - the version goes up by one only when the objects differ from the last snapshot. The
 *   first apply always publishes (version 1), even for an empty directory.
 */
export class LastGood {
  private readonly lastParsed = new Map<string, ParseResult>();
  private published = new Map<string, ParsedObject>();
  private snapshot: Snapshot = {
    version: 0,
    namespaces: new Map(),
    pods: new Map(),
    services: new Map(),
    networkPolicies: new Map(),
    authorizationPolicies: new Map(),
    routes: new Map(),
    referenceGrants: new Map(),
    rateLimits: new Map(),
    httpFaults: new Map(),
    destinationRules: new Map(),
  };

  current(): Snapshot {
    return this.snapshot;
  }

  /** files: every manifest file of the directory, keyed by path. */
  apply(files: ReadonlyMap<string, ParseResult>): MergeResult {
    for (const file of [...this.lastParsed.keys()]) {
      if (!files.has(file)) this.lastParsed.delete(file);
    }
    const owner = new Map<string, string>();
    const chosen = new Map<string, ParsedObject>();
    const errors: ObjectError[] = [];
    const failing = new Set<string>();
    for (const file of [...files.keys()].sort()) {
      const now = files.get(file)!;
      if (!now.broken) this.lastParsed.set(file, now);
      errors.push(...now.errors);
      const used = now.broken ? this.lastParsed.get(file) : now;
      if (!used) continue;
      const fallback = new Map((used.fallbacks ?? []).map((o) => [objectId(o), o]));
      const claim = (id: string, object: ParsedObject | undefined) => {
        const first = owner.get(id);
        if (first !== undefined) {
          const where = first === file ? 'earlier in this file' : `in ${first}`;
          errors.push({
            file,
            object: id,
            field: '',
            message: `expected each object once in the directory, found ${id} already defined ${where}; that definition wins`,
          });
          return;
        }
        owner.set(id, file);
        let kept = object ?? this.published.get(id);
        // The last good version, unless it was itself a stand-in (the fix may have come since).
        if (!object && fallback.has(id) && (!kept || isStandIn(kept))) {
          kept = fallback.get(id)!;
          failing.add(`${file}\0${id}`);
        }
        if (kept) chosen.set(id, kept);
      };
      for (const o of used.objects) claim(objectId(o), o);
      for (const id of used.rejected) claim(id, undefined);
    }
    // Errors of an object in force as its fail-closed stand-in say so.
    for (const [i, e] of errors.entries())
      if (failing.has(`${e.file}\0${e.object}`)) errors[i] = { ...e, failsClosed: true };
    const objects = toClusterObjects(chosen);
    const changed = this.snapshot.version === 0 || !sameObjects(objects, this.snapshot);
    this.published = chosen;
    if (changed) this.snapshot = { version: this.snapshot.version + 1, ...objects };
    return { snapshot: this.snapshot, errors, changed };
  }
}

function isStandIn(o: ParsedObject): boolean {
  return (
    (o.kind === 'AuthorizationPolicy' || o.kind === 'NetworkPolicy') &&
    o.value.failClosed !== undefined
  );
}

/** Parsed objects into the snapshot's maps, keyed as ClusterObjects says. */
export function toClusterObjects(chosen: ReadonlyMap<string, ParsedObject>): ClusterObjects {
  const namespaces = new Map<string, Namespace>();
  const pods = new Map<string, Pod>();
  const services = new Map<string, Service>();
  const networkPolicies = new Map<string, NetworkPolicy>();
  const authorizationPolicies = new Map<string, AuthorizationPolicy>();
  const routes = new Map<string, Route>();
  const referenceGrants = new Map<string, ReferenceGrant>();
  const rateLimits = new Map<string, HttpLocalRateLimitPolicy>();
  const httpFaults = new Map<string, HttpFault>();
  const destinationRules = new Map<string, DestinationRule>();
  // Sorted so that two equal snapshots also iterate alike.
  for (const id of [...chosen.keys()].sort()) {
    const o = chosen.get(id)!;
    if (o.kind === 'Namespace') namespaces.set(o.value.name, o.value);
    else if (o.kind === 'Pod') pods.set(`${o.value.namespace}/${o.value.name}`, o.value);
    else if (o.kind === 'Service') services.set(`${o.value.namespace}/${o.value.name}`, o.value);
    else if (o.kind === 'NetworkPolicy')
      networkPolicies.set(`${o.value.namespace}/${o.value.name}`, o.value);
    else if (o.kind === 'HTTPRoute' || o.kind === 'GRPCRoute') routes.set(id, o.value);
    else if (o.kind === 'ReferenceGrant')
      referenceGrants.set(`${o.value.namespace}/${o.value.name}`, o.value);
    else if (o.kind === 'HTTPLocalRateLimitPolicy')
      rateLimits.set(`${o.value.namespace}/${o.value.name}`, o.value);
    else if (o.kind === 'HTTPFault')
      httpFaults.set(`${o.value.namespace}/${o.value.name}`, o.value);
    else if (o.kind === 'DestinationRule')
      destinationRules.set(`${o.value.namespace}/${o.value.name}`, o.value);
    else authorizationPolicies.set(`${o.value.namespace}/${o.value.name}`, o.value);
  }
  return {
    namespaces,
    pods,
    services,
    networkPolicies,
    authorizationPolicies,
    routes,
    referenceGrants,
    rateLimits,
    httpFaults,
    destinationRules,
  };
}

function sameObjects(a: ClusterObjects, b: ClusterObjects): boolean {
  return (
    isDeepStrictEqual(a.namespaces, b.namespaces) &&
    isDeepStrictEqual(a.pods, b.pods) &&
    isDeepStrictEqual(a.services, b.services) &&
    isDeepStrictEqual(a.networkPolicies, b.networkPolicies) &&
    isDeepStrictEqual(a.authorizationPolicies, b.authorizationPolicies) &&
    isDeepStrictEqual(a.routes, b.routes) &&
    isDeepStrictEqual(a.referenceGrants, b.referenceGrants) &&
    isDeepStrictEqual(a.rateLimits, b.rateLimits) &&
    isDeepStrictEqual(a.httpFaults, b.httpFaults) &&
    isDeepStrictEqual(a.destinationRules, b.destinationRules)
  );
}
