// A pod as Istio's standard metrics name it: workload, app, version, canonical
// service and revision. Without owner references in the snapshot, the workload
// is the pod name without what a controller generated (a ReplicaSet's hash and a
// pod's suffix, a StatefulSet's ordinal), so replicas share one series.
import type { Pod } from '../state/index.ts';

export interface WorkloadLabels {
  readonly workload: string;
  readonly namespace: string;
  readonly app: string;
  readonly version: string;
  readonly canonicalService: string;
  readonly canonicalRevision: string;
}

export const UNKNOWN = 'unknown';

export const unknownWorkload: WorkloadLabels = {
  workload: UNKNOWN,
  namespace: UNKNOWN,
  app: UNKNOWN,
  version: UNKNOWN,
  canonicalService: UNKNOWN,
  canonicalRevision: UNKNOWN,
};

// deployment-<rs hash>-<pod suffix>, <controller>-<pod suffix>, statefulset-<ordinal>.
// Generated parts use Kubernetes' alphabet without vowels (so `web-proxy` stays whole).
const DEPLOYMENT = /^(.+)-[bcdfghjklmnpqrstvwxz2456789]{6,10}-[bcdfghjklmnpqrstvwxz2456789]{5}$/;
const GENERATED = /^(.+)-[bcdfghjklmnpqrstvwxz2456789]{5}$/;
const ORDINAL = /^(.+)-\d+$/;

/** The workload a pod belongs to, as far as its name tells. */
export function workloadName(pod: Pod): string {
  const n = pod.name;
  const m = DEPLOYMENT.exec(n) ?? GENERATED.exec(n) ?? ORDINAL.exec(n);
  return m ? m[1]! : n;
}

const cache = new WeakMap<Pod, WorkloadLabels>();

export function workloadLabels(pod: Pod | undefined): WorkloadLabels {
  if (!pod) return unknownWorkload;
  let w = cache.get(pod);
  if (w) return w;
  const l = pod.labels;
  const workload = workloadName(pod);
  w = {
    workload,
    namespace: pod.namespace,
    app: l.app ?? l['app.kubernetes.io/name'] ?? UNKNOWN,
    version: l.version ?? l['app.kubernetes.io/version'] ?? UNKNOWN,
    canonicalService:
      l['service.istio.io/canonical-name'] ?? l['app.kubernetes.io/name'] ?? l.app ?? workload,
    canonicalRevision:
      l['service.istio.io/canonical-revision'] ??
      l['app.kubernetes.io/version'] ??
      l.version ??
      'latest',
  };
  cache.set(pod, w);
  return w;
}
