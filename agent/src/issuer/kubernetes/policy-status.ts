// Status conditions on weft's AuthorizationPolicies, so `kubectl get` shows
// whether each was accepted: Accepted=True; Accepted=False with reason Rejected
// and the field that is wrong; or Accepted=False with reason FailedClosed when it
// uses a field weft cannot enforce, so it denies all traffic to what it selects. Written by the issuer — one writer for
// the cluster — rather than by every agent, which would race each other. The
// verdict comes from the same parser the agents use, so it is theirs too.
import {
  CustomObjectsApi,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import {
  type InformerOptions,
  normalize,
  type RawObject,
  ResourceInformer,
} from '../../sources/kubernetes/index.ts';
import { parseObjects } from '../../sources/manifests/index.ts';
import { Sweeps } from './sweeps.ts';

const GROUP = 'security.weft.dev';
const VERSION = 'v1alpha1';
const PLURAL = 'authorizationpolicies';

export interface Condition {
  type: 'Accepted';
  status: 'True' | 'False';
  reason: 'Accepted' | 'Rejected' | 'FailedClosed';
  message: string;
  observedGeneration?: number;
  lastTransitionTime: string;
}

/** The Accepted condition a policy should carry. Pure. */
export function acceptedCondition(obj: RawObject, now: Date): Condition {
  const r = parseObjects(`${GROUP}/${VERSION}`, [obj]);
  const old = (obj.status?.conditions as Condition[] | undefined)?.find(
    (c) => c.type === 'Accepted',
  );
  const ok = r.errors.length === 0;
  const closed = !ok && r.errors.every((e) => e.failsClosed);
  const status = ok ? 'True' : 'False';
  const fields = r.errors.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message)).join('; ');
  return {
    type: 'Accepted',
    status,
    reason: ok ? 'Accepted' : closed ? 'FailedClosed' : 'Rejected',
    message: ok
      ? 'enforced by the agents of every node'
      : closed
        ? `${fields}; weft cannot enforce this, so the agents deny all traffic to the workloads the policy selects`
        : `${fields}; the agents keep the last good version in force, or deny all traffic to the workloads the policy selects when there is none`,
    ...(typeof obj.metadata?.generation === 'number'
      ? { observedGeneration: obj.metadata.generation }
      : {}),
    // A condition's time moves only when its status does.
    lastTransitionTime: old?.status === status ? old.lastTransitionTime : now.toISOString(),
  };
}

function sameCondition(a: Condition | undefined, b: Condition): boolean {
  return (
    a !== undefined &&
    a.status === b.status &&
    a.reason === b.reason &&
    a.message === b.message &&
    a.observedGeneration === b.observedGeneration
  );
}

export class PolicyStatusWriter {
  private readonly sweeps = new Sweeps(() => this.sweep());
  private readonly informer: ResourceInformer;
  private readonly api: CustomObjectsApi;
  private readonly log: (line: string) => void;
  /** What was last written per object: its own write echoing back must not write again. */
  private readonly written = new Map<string, string>();

  constructor(kc: KubeConfig, opts: InformerOptions & { log?: (l: string) => void } = {}) {
    this.log = opts.log ?? (() => {});
    this.api = kc.makeApiClient(CustomObjectsApi);
    this.informer = new ResourceInformer(
      kc,
      {
        path: `/apis/${GROUP}/${VERSION}/${PLURAL}`,
        kind: 'AuthorizationPolicy',
        apiVersion: `${GROUP}/${VERSION}`,
        optional: true,
        list: () =>
          this.api.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL }),
      },
      opts,
    );
    this.informer.on('change', () => this.sweeps.kick());
    this.informer.on('error', (e) => this.log(`policy status: ${e.message}`));
  }

  start(): Promise<void> {
    return this.informer.start();
  }

  /** Resolves once the conditions written so far are in (tests). */
  settled(): Promise<void> {
    return this.sweeps.settled();
  }

  close(): void {
    this.sweeps.close();
    this.informer.stop();
  }

  private async sweep(): Promise<void> {
    const now = new Date();
    const present = new Set(
      this.informer
        .items()
        .map((o) => `${o.metadata?.namespace}/${o.metadata?.name}/${o.metadata?.uid}`),
    );
    for (const k of this.written.keys()) if (!present.has(k)) this.written.delete(k);
    for (const o of this.informer.items()) {
      const obj = normalize(o, 'AuthorizationPolicy', `${GROUP}/${VERSION}`);
      const want = acceptedCondition(obj, now);
      const have = (obj.status?.conditions as Condition[] | undefined)?.find(
        (c) => c.type === 'Accepted',
      );
      // By UID: a policy deleted and made again under its name is a new object to mark.
      const key = `${obj.metadata.namespace}/${obj.metadata.name}/${obj.metadata.uid}`;
      const sig = JSON.stringify({ ...want, lastTransitionTime: undefined });
      if (sameCondition(have, want) || this.written.get(key) === sig) continue;
      const others = ((obj.status?.conditions as Condition[] | undefined) ?? []).filter(
        (c) => c.type !== 'Accepted',
      );
      try {
        await this.api.patchNamespacedCustomObjectStatus(
          {
            group: GROUP,
            version: VERSION,
            plural: PLURAL,
            namespace: obj.metadata.namespace,
            name: obj.metadata.name,
            body: { status: { conditions: [...others, want] } },
          },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
        this.written.set(key, sig);
      } catch (e) {
        // Tried again shortly (the API server may be coming back), or on the next change.
        this.sweeps.retryLater();
        this.log(
          `policy status of ${obj.metadata.namespace}/${obj.metadata.name}: ${(e as Error).message}`,
        );
      }
    }
  }
}
