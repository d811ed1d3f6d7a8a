// The cluster as a live source, for the same state store the manifest source
// feeds: informers on Namespaces, this node's Pods, every Pod (policy peers),
// Services, EndpointSlices, NetworkPolicies, AuthorizationPolicies of both
// API groups, and the Gateway API's HTTPRoutes, GRPCRoutes and ReferenceGrants, and weft.dev HTTPLocalRateLimitPolicies. Every change rebuilds the snapshot (debounced, so a relist of a
// thousand objects is one snapshot) and an object the parser rejects keeps its
// last good version, as a broken manifest file does.
import { EventEmitter } from 'node:events';
import { isDeepStrictEqual } from 'node:util';
import type { KubeConfig } from '@kubernetes/client-node';
import type { EndpointSlice, ObjectError, Snapshot } from '../../state/index.ts';
import { LastGood } from '../manifests/merge.ts';
import { concatResults, type ParseResult, parseObjects } from '../manifests/parse.ts';
import {
  isLivePod,
  normalize,
  type PodLocation,
  podKey,
  type RawObject,
  withLocation,
  withoutNodeAddress,
} from './convert.ts';
import { readEndpointSlice } from './endpoints.ts';
import { type InformerOptions, ResourceInformer, type ResourceSpec } from './informer.ts';
import { agentResources, type ResourceName } from './resources.ts';

/** Finds this node's pods in the kernel (agent/src/discovery on a real node). */
export interface PodLocator {
  /** Where the pod lives now; undefined until its sandbox exists, or once it is gone. */
  locate(uid: string, qosClass: string): PodLocation | undefined;
  /** The pods worth watching: a pod that starts, restarts or goes calls onChange. */
  track(pods: readonly { uid: string; qosClass: string }[], onChange: () => void): void;
}

export interface KubernetesSourceOptions {
  readonly kubeConfig: KubeConfig;
  readonly node: string;
  readonly locator?: PodLocator;
  /** How long a burst of changes may settle before one snapshot is built; default 20 ms. */
  readonly debounceMs?: number;
  readonly informer?: InformerOptions;
  /** Overrides the watched resources (tests). */
  readonly resources?: Partial<Record<ResourceName, ResourceSpec>>;
}

export interface ResourceStatus {
  readonly path: string;
  readonly synced: boolean;
  readonly objects: number;
  readonly lastError?: string;
}

const POLICY_RESOURCES: readonly ResourceName[] = [
  'networkPolicies',
  'weftAuthorizationPolicies',
  'istioAuthorizationPolicies',
  'httpRoutes',
  'grpcRoutes',
  'referenceGrants',
  'rateLimits',
  'httpFaults',
  'destinationRules',
];

/**
 * Emits 'snapshot' (Snapshot) when the objects change and 'errors' (the whole
 * current ObjectError[]) when the rejected objects change; neither for the
 * state start() resolves with. Informer failures go to 'warning' (they retry).
 */
export class KubernetesSource extends EventEmitter<{
  snapshot: [Snapshot];
  errors: [ObjectError[]];
  warning: [string];
}> {
  private readonly opts: KubernetesSourceOptions;
  private readonly informers = new Map<ResourceName, ResourceInformer>();
  private readonly lastErrors = new Map<ResourceName, string>();
  private readonly merger = new LastGood();
  private readonly parsed = new WeakMap<
    object,
    { source: string; extra: string; result: ParseResult }
  >();
  private snapshot: Snapshot | undefined;
  private currentErrors: ObjectError[] = [];
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private closed = false;

  constructor(opts: KubernetesSourceOptions) {
    super();
    this.opts = opts;
    const specs = { ...agentResources(opts.kubeConfig, opts.node), ...opts.resources };
    for (const [name, spec] of Object.entries(specs) as [ResourceName, ResourceSpec][]) {
      const inf = new ResourceInformer(opts.kubeConfig, spec, opts.informer);
      inf.on('change', () => this.schedule());
      inf.on('error', (e) => {
        this.lastErrors.set(name, e.message);
        this.emit('warning', e.message);
      });
      this.informers.set(name, inf);
    }
  }

  /** Lists everything, then watches; resolves with the first snapshot once every list is in. */
  async start(): Promise<Snapshot> {
    if (this.started) throw new Error('kubernetes source already started');
    this.started = true;
    await Promise.all([...this.informers.values()].map((i) => i.start()));
    clearTimeout(this.timer);
    this.timer = undefined;
    const { snapshot, errors } = this.build();
    this.snapshot = snapshot;
    this.currentErrors = errors;
    return snapshot;
  }

  /** Every initial list has been applied (stays true through later outages: the cache serves). */
  get ready(): boolean {
    return [...this.informers.values()].every((i) => i.synced);
  }

  /** The last snapshot published (or returned by start()). */
  current(): Snapshot | undefined {
    return this.snapshot;
  }

  errors(): ObjectError[] {
    return this.currentErrors;
  }

  status(): ResourceStatus[] {
    return [...this.informers.entries()].map(([name, i]) => ({
      path: i.spec.fieldSelector
        ? `${i.spec.path}?fieldSelector=${i.spec.fieldSelector}`
        : i.spec.path,
      synced: i.synced,
      objects: i.items().length,
      ...(this.lastErrors.has(name) ? { lastError: this.lastErrors.get(name) } : {}),
    }));
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    for (const i of this.informers.values()) i.stop();
  }

  private schedule(): void {
    if (!this.snapshot || this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.closed) return;
      const { snapshot, errors, changed } = this.build();
      if (changed) {
        this.snapshot = snapshot;
        this.emit('snapshot', snapshot);
      }
      if (!isDeepStrictEqual(errors, this.currentErrors)) {
        this.currentErrors = errors;
        this.emit('errors', errors);
      }
    }, this.opts.debounceMs ?? 20);
  }

  private raw(name: ResourceName): RawObject[] {
    const inf = this.informers.get(name);
    if (!inf) return [];
    return inf.items().map((o) => normalize(o, inf.spec.kind, inf.spec.apiVersion));
  }

  /**
   * One object through the parser, once per version of it: the informer replaces an
   * object it updates, so an unchanged one is the same instance and keeps its result
   * (`extra` tells apart what the object alone does not show: a pod's location).
   */
  private parseOne(source: string, o: object, prepare: () => RawObject, extra = ''): ParseResult {
    const hit = this.parsed.get(o);
    if (hit && hit.source === source && hit.extra === extra) return hit.result;
    const result = parseObjects(source, [prepare()]);
    this.parsed.set(o, { source, extra, result });
    return result;
  }

  private parseAll(name: ResourceName): ParseResult[] {
    const inf = this.informers.get(name);
    if (!inf) return [];
    const source = `kubernetes:${inf.spec.path}`;
    return inf
      .items()
      .map((o) => this.parseOne(source, o, () => normalize(o, inf.spec.kind, inf.spec.apiVersion)));
  }

  private parsePods(): ParseResult[] {
    const byKey = new Map<string, RawObject>();
    const key = (p: RawObject) => `${p.metadata?.namespace}/${p.metadata?.name}`;
    for (const p of this.informers.get('pods')?.items() ?? []) byKey.set(key(p), p);
    // This node's own watch is the authority for its pods (it may be ahead of the other).
    for (const p of this.informers.get('localPods')?.items() ?? []) byKey.set(key(p), p);
    const live = [...byKey.values()].filter(isLivePod);
    const mine = new Set(
      live.filter((p) => p.spec?.nodeName === this.opts.node && p.spec?.hostNetwork !== true),
    );
    const locator = this.opts.locator;
    if (locator) {
      locator.track(
        [...mine].map(podKey).filter((k) => k !== undefined),
        () => this.schedule(),
      );
    }
    const source = `kubernetes:${this.informers.get('pods')?.spec.path ?? '/api/v1/pods'}`;
    return live.map((p) => {
      const k = locator && mine.has(p) ? podKey(p) : undefined;
      const where = k ? locator!.locate(k.uid, k.qosClass) : undefined;
      return this.parseOne(
        source,
        p,
        () => withoutNodeAddress(withLocation(normalize(p, 'Pod', 'v1'), where)),
        where ? `${where.netnsPath}|${where.cgroupDir}` : '',
      );
    });
  }

  private build(): { snapshot: Snapshot; errors: ObjectError[]; changed: boolean } {
    const files = new Map<string, ParseResult>();
    const file = (name: ResourceName, results: ParseResult[]) => {
      const inf = this.informers.get(name);
      if (inf) files.set(`kubernetes:${inf.spec.path}`, concatResults(results));
    };
    file('namespaces', this.parseAll('namespaces'));
    file('pods', this.parsePods());
    file('services', this.parseAll('services'));
    for (const p of POLICY_RESOURCES) file(p, this.parseAll(p));
    const merged = this.merger.apply(files);
    const slices = new Map<string, EndpointSlice>();
    const errors = [...merged.errors];
    const slicesPath = `kubernetes:${this.informers.get('endpointSlices')?.spec.path ?? ''}`;
    for (const o of this.raw('endpointSlices')) {
      const r = readEndpointSlice(slicesPath, o);
      if ('error' in r) errors.push(r.error);
      else if ('slice' in r) slices.set(`${r.slice.namespace}/${r.slice.name}`, r.slice);
    }
    const prev = this.snapshot;
    const slicesChanged = !prev || !isDeepStrictEqual(prev.endpointSlices, slices);
    const changed = merged.changed || slicesChanged;
    const version = prev ? (changed ? prev.version + 1 : prev.version) : 1;
    return { snapshot: { ...merged.snapshot, endpointSlices: slices, version }, errors, changed };
  }
}
