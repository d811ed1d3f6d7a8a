// The chart's RBAC against the code: every Kubernetes API call the agent and the issuer make
// (methods of @kubernetes/client-node's API classes, found in their sources) is granted by
// their role, and nothing is granted that no call uses. With no live cluster in CI, this is
// what keeps a new call from meeting a 403 only in production.
import { readdirSync, readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { find, type K8sObject, render, repo } from './render.ts';

// Every API method either component calls → the grants it needs. A list also needs watch:
// the informers (sources/kubernetes/informer.ts) list, then watch from that version.
// `<groups>` stands for the AuthorizationPolicy groups named in the component's sources.
const needs: Record<string, string[]> = {
  listNamespace: ['list core/namespaces', 'watch core/namespaces'],
  listPodForAllNamespaces: ['list core/pods', 'watch core/pods'],
  listServiceForAllNamespaces: ['list core/services', 'watch core/services'],
  listEndpointSliceForAllNamespaces: [
    'list discovery.k8s.io/endpointslices',
    'watch discovery.k8s.io/endpointslices',
  ],
  listNetworkPolicyForAllNamespaces: [
    'list networking.k8s.io/networkpolicies',
    'watch networking.k8s.io/networkpolicies',
  ],
  listClusterCustomObject: [
    'list <groups>/authorizationpolicies',
    'watch <groups>/authorizationpolicies',
  ],
  patchNamespacedCustomObjectStatus: ['patch <groups>/authorizationpolicies/status'],
  createTokenReview: ['create authentication.k8s.io/tokenreviews'],
  readNamespacedSecret: ['get core/secrets'],
  createNamespacedSecret: ['create core/secrets'],
  readNamespacedConfigMap: ['get core/configmaps'],
  replaceNamespacedConfigMap: ['update core/configmaps'],
  createNamespacedConfigMap: ['create core/configmaps'],
};

const apiMethods = new Set<string>();
for (const [name, v] of Object.entries(k8s))
  if (name.endsWith('Api') && typeof v === 'function')
    // Typed calls only (readNamespacedSecret): the one-word names of the generic
    // KubernetesObjectApi (list, replace, delete) would match Map and String methods.
    for (const m of Object.getOwnPropertyNames(v.prototype))
      if (/^[a-z]+[A-Z]/.test(m)) apiMethods.add(m);

function sources(dirs: readonly string[]): string {
  return dirs
    .flatMap((d) =>
      // Sub-folders too: the issuer keeps its Kubernetes calls in issuer/kubernetes/.
      (readdirSync(`${repo}${d}`, { recursive: true }) as string[])
        .filter((f) => f.endsWith('.ts'))
        .map((f) => readFileSync(`${repo}${d}/${f}`, 'utf8')),
    )
    .join('\n');
}

/** The API methods called in the sources, and the AuthorizationPolicy groups they name. */
function apiUse(dirs: readonly string[]): {
  calls: string[];
  groups: string[];
  gateway: string[];
  weft: string[];
  istio: string[];
} {
  const text = sources(dirs);
  const calls = new Set<string>();
  for (const m of text.matchAll(/\.([A-Za-z]+)\(/g)) if (apiMethods.has(m[1]!)) calls.add(m[1]!);
  const groups = new Set<string>();
  for (const m of text.matchAll(/['"`](security\.(?:weft\.dev|istio\.io))['"`]/g))
    groups.add(m[1]!);
  // Gateway API resources, named by their plurals where they are listed (and patched).
  const gateway = new Set<string>();
  if (text.includes("'gateway.networking.k8s.io'"))
    for (const m of text.matchAll(/['"`](httproutes|grpcroutes|referencegrants)['"`]/g))
      gateway.add(m[1]!);
  // weft.dev's own kinds (HTTPLocalRateLimitPolicy, HTTPFault), named by their plurals where they are listed.
  const weft = new Set<string>();
  for (const m of text.matchAll(/['"`](httplocalratelimitpolicies|httpfaults)['"`]/g))
    weft.add(m[1]!);
  // Istio's networking resources (DestinationRule), the same way.
  const istio = new Set<string>();
  if (text.includes("'networking.istio.io'"))
    for (const m of text.matchAll(/['"`](destinationrules)['"`]/g)) istio.add(m[1]!);
  return {
    calls: [...calls].sort(),
    groups: [...groups].sort(),
    gateway: [...gateway].sort(),
    weft: [...weft].sort(),
    istio: [...istio].sort(),
  };
}

/** What a role (and its companion Role, for the issuer) grants, ignoring resourceNames. */
function granted(roles: readonly K8sObject[]): Set<string> {
  const out = new Set<string>();
  for (const role of roles)
    for (const r of role.rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[])
      for (const g of r.apiGroups)
        for (const res of r.resources)
          for (const v of r.verbs) out.add(`${v} ${g || 'core'}/${res}`);
  return out;
}

function required(dirs: readonly string[]): { needed: Set<string>; unknown: string[] } {
  const { calls, groups, gateway, weft, istio } = apiUse(dirs);
  const needed = new Set<string>();
  const unknown: string[] = [];
  for (const c of calls) {
    const n = needs[c];
    if (!n) unknown.push(c);
    for (const g of n ?? [])
      if (g.includes('<groups>')) for (const grp of groups) needed.add(g.replace('<groups>', grp));
      else needed.add(g);
    // The same generic calls on the Gateway API's resources.
    for (const plural of gateway) {
      if (c === 'listClusterCustomObject')
        for (const v of ['list', 'watch']) needed.add(`${v} gateway.networking.k8s.io/${plural}`);
      if (c === 'patchNamespacedCustomObjectStatus' && plural !== 'referencegrants')
        needed.add(`patch gateway.networking.k8s.io/${plural}/status`);
    }
    for (const plural of weft)
      if (c === 'listClusterCustomObject')
        for (const v of ['list', 'watch']) needed.add(`${v} weft.dev/${plural}`);
    for (const plural of istio)
      for (const v of ['list', 'watch']) needed.add(`${v} networking.istio.io/${plural}`);
  }
  return { needed, unknown };
}

const objs = render('weft-system');
const components = {
  agent: {
    dirs: ['agent/src/sources/kubernetes', 'agent/src/discovery', 'agent/src/agent'],
    roles: [find(objs, 'ClusterRole', 'weft-agent')],
  },
  issuer: {
    dirs: ['agent/src/issuer'],
    roles: [find(objs, 'ClusterRole', 'weft-issuer'), find(objs, 'Role', 'weft-issuer')],
  },
};

describe.each(Object.entries(components))('%s', (_, c) => {
  it('makes only API calls this test knows the grants of', () => {
    // A new call: add it to `needs` above, and its grant to the chart.
    expect(required(c.dirs).unknown).toEqual([]);
  });

  it('is granted every call it makes, and nothing else', () => {
    const { needed } = required(c.dirs);
    expect(needed.size).toBeGreaterThan(0);
    // get comes with list/watch for reads (kubectl-style access and informers' resyncs).
    const extra = [...granted(c.roles)].filter(
      (g) => !needed.has(g) && !(g.startsWith('get ') && needed.has(g.replace(/^get/, 'list'))),
    );
    expect([...needed].filter((g) => !granted(c.roles).has(g))).toEqual([]);
    expect(extra).toEqual([]);
  });
});

it('finds calls in source text (the scan sees what it is for)', () => {
  expect(apiMethods.has('readNamespacedSecret')).toBe(true);
  expect(
    required(['agent/src/issuer']).needed.has('create authentication.k8s.io/tokenreviews'),
  ).toBe(true);
});
