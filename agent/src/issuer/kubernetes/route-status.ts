// Status of the Gateway API routes bound to Services, written by the issuer (one writer
// for the cluster, as for AuthorizationPolicies): per Service parent, weft's entry in
// status.parents (controllerName weft.dev/mesh) with Accepted and ResolvedRefs, computed
// by the same parser and the same pure function the agents use. Other controllers'
// entries (a Gateway's) are left as they are.
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { ROUTE_CONTROLLER, refusedConditions, routeStatus } from '../../compile/index.ts';
import {
  type InformerOptions,
  type ListResult,
  normalize,
  type RawObject,
  ResourceInformer,
} from '../../sources/kubernetes/index.ts';
import {
  objectId,
  type ParsedObject,
  parseObjects,
  toClusterObjects,
} from '../../sources/manifests/index.ts';
import type { RouteCondition, RouteParentStatus } from '../../state/index.ts';
import { Sweeps } from './sweeps.ts';

const GROUP = 'gateway.networking.k8s.io';

interface Kind {
  readonly kind: string;
  readonly version: string;
  readonly plural: string;
  /** Absent: the Gateway API's. */
  readonly group?: string;
}
const ROUTES: readonly Kind[] = [
  { kind: 'HTTPRoute', version: 'v1', plural: 'httproutes' },
  { kind: 'GRPCRoute', version: 'v1', plural: 'grpcroutes' },
];
const GRANTS: Kind = { kind: 'ReferenceGrant', version: 'v1beta1', plural: 'referencegrants' };
/** The faults rules name (ExtensionRef): one that is missing makes ResolvedRefs False. */
const FAULTS: Kind = {
  kind: 'HTTPFault',
  version: 'v1alpha1',
  plural: 'httpfaults',
  group: 'weft.dev',
};

export interface WrittenCondition extends RouteCondition {
  observedGeneration?: number;
  lastTransitionTime: string;
}

export interface ParentStatusEntry {
  parentRef: { group: ''; kind: 'Service'; namespace: string; name: string; port?: number };
  controllerName: string;
  conditions: WrittenCondition[];
}

/**
 * weft's status.parents entries for one route object, given every parsed object of the
 * cluster (Services, routes, grants). Pure; `now` dates a condition whose status changed.
 */
export function routeParentEntries(
  obj: RawObject,
  objects: ReturnType<typeof toClusterObjects>,
  now: Date,
): ParentStatusEntry[] {
  const parsed = parseObjects(`${GROUP}/${obj.apiVersion?.split('/')[1] ?? ''}`, [obj]);
  const route = parsed.objects[0];
  const generation = obj.metadata?.generation;
  let parents: RouteParentStatus[];
  if (route && (route.kind === 'HTTPRoute' || route.kind === 'GRPCRoute')) {
    parents = routeStatus(objects, route.value);
  } else {
    // Refused: every Service it names as a parent hears why (a Gateway's controller speaks for its own).
    const conditions = refusedConditions(parsed.errors);
    const ns = obj.metadata?.namespace ?? 'default';
    parents = ((obj.spec?.parentRefs ?? []) as RawObject[])
      .filter((p) => p?.kind === 'Service' && (p.group === '' || p.group === 'core'))
      .filter((p) => typeof p.name === 'string')
      .map((p) => ({
        parentRef: {
          namespace: typeof p.namespace === 'string' ? p.namespace : ns,
          name: p.name as string,
          ...(typeof p.port === 'number' ? { port: p.port } : {}),
        },
        conditions,
      }));
  }
  const old = ((obj.status?.parents ?? []) as ParentStatusEntry[]).filter(
    (e) => e?.controllerName === ROUTE_CONTROLLER,
  );
  return parents.map((p) => {
    const ref = { group: '' as const, kind: 'Service' as const, ...p.parentRef };
    const before = old.find(
      (e) =>
        e.parentRef?.namespace === ref.namespace &&
        e.parentRef?.name === ref.name &&
        e.parentRef?.port === ref.port,
    );
    return {
      parentRef: ref,
      controllerName: ROUTE_CONTROLLER,
      conditions: p.conditions.map((c) => {
        const was = before?.conditions?.find((x) => x.type === c.type);
        return {
          ...c,
          ...(typeof generation === 'number' ? { observedGeneration: generation } : {}),
          // A condition's time moves only when its status does.
          lastTransitionTime: was?.status === c.status ? was.lastTransitionTime : now.toISOString(),
        };
      }),
    };
  });
}

/** The entries without their times: what decides whether anything needs writing. */
function signature(entries: readonly ParentStatusEntry[]): string {
  return JSON.stringify(
    entries.map((e) => ({
      ...e,
      conditions: e.conditions.map((c) => ({ ...c, lastTransitionTime: undefined })),
    })),
  );
}

export class RouteStatusWriter {
  private readonly sweeps = new Sweeps(() => this.sweep());
  private readonly api: CustomObjectsApi;
  private readonly informers = new Map<string, ResourceInformer>();
  private readonly log: (line: string) => void;
  /** What was last written per object (by UID): its own write echoing back must not write again. */
  private readonly written = new Map<string, string>();

  constructor(kc: KubeConfig, opts: InformerOptions & { log?: (l: string) => void } = {}) {
    this.log = opts.log ?? (() => {});
    this.api = kc.makeApiClient(CustomObjectsApi);
    const core = kc.makeApiClient(CoreV1Api);
    const custom = (k: Kind) =>
      new ResourceInformer(
        kc,
        {
          path: `/apis/${k.group ?? GROUP}/${k.version}/${k.plural}`,
          kind: k.kind,
          apiVersion: `${k.group ?? GROUP}/${k.version}`,
          optional: true,
          list: () =>
            this.api.listClusterCustomObject({
              group: k.group ?? GROUP,
              version: k.version,
              plural: k.plural,
            }) as Promise<ListResult>,
        },
        opts,
      );
    for (const k of [...ROUTES, GRANTS, FAULTS]) this.informers.set(k.kind, custom(k));
    this.informers.set(
      'Service',
      new ResourceInformer(
        kc,
        {
          path: '/api/v1/services',
          kind: 'Service',
          apiVersion: 'v1',
          list: () => core.listServiceForAllNamespaces(),
        },
        opts,
      ),
    );
    for (const inf of this.informers.values()) {
      inf.on('change', () => this.sweeps.kick());
      inf.on('error', (e) => this.log(`route status: ${e.message}`));
    }
  }

  async start(): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.start()));
  }

  /** Resolves once the status written so far is in (tests). */
  settled(): Promise<void> {
    return this.sweeps.settled();
  }

  close(): void {
    this.sweeps.close();
    for (const i of this.informers.values()) i.stop();
  }

  private raw(kind: string): RawObject[] {
    const inf = this.informers.get(kind)!;
    return inf.items().map((o) => normalize(o, inf.spec.kind, inf.spec.apiVersion));
  }

  private async sweep(): Promise<void> {
    const now = new Date();
    const all = [
      ...this.raw('Service'),
      ...this.raw(GRANTS.kind),
      ...this.raw(FAULTS.kind),
      ...ROUTES.flatMap((k) => this.raw(k.kind)),
    ];
    const parsed = parseObjects('kubernetes', all);
    const chosen = new Map<string, ParsedObject>(parsed.objects.map((o) => [objectId(o), o]));
    const objects = toClusterObjects(chosen);
    const present = new Set<string>();
    for (const k of ROUTES) {
      for (const obj of this.raw(k.kind)) {
        const key = `${k.kind}/${obj.metadata?.namespace}/${obj.metadata?.name}/${obj.metadata?.uid}`;
        present.add(key);
        const ours = routeParentEntries(obj, objects, now);
        const sig = signature(ours);
        const have = ((obj.status?.parents ?? []) as ParentStatusEntry[]).filter(
          (e) => e?.controllerName === ROUTE_CONTROLLER,
        );
        if (signature(have) === sig || this.written.get(key) === sig) continue;
        const others = ((obj.status?.parents ?? []) as ParentStatusEntry[]).filter(
          (e) => e?.controllerName !== ROUTE_CONTROLLER,
        );
        try {
          await this.api.patchNamespacedCustomObjectStatus(
            {
              group: GROUP,
              version: k.version,
              plural: k.plural,
              namespace: obj.metadata.namespace,
              name: obj.metadata.name,
              body: { status: { parents: [...others, ...ours] } },
            },
            setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
          );
          this.written.set(key, sig);
        } catch (e) {
          this.sweeps.retryLater();
          this.log(
            `route status of ${k.kind} ${obj.metadata.namespace}/${obj.metadata.name}: ${(e as Error).message}`,
          );
        }
      }
    }
    for (const k of this.written.keys()) if (!present.has(k)) this.written.delete(k);
  }
}
