// Where the kubelet puts a pod's cgroup, for each cgroup driver. Pure: names
// in, relative paths out. The runtime (containerd, CRI-O) only names the
// container cgroups inside the pod cgroup, so it matters here only for CRI-O's
// conmon scopes, which hold runtime helpers rather than pod processes.
import { basename, posix } from 'node:path';

export type QosClass = 'Guaranteed' | 'Burstable' | 'BestEffort';
export const QOS_CLASSES: readonly QosClass[] = ['Guaranteed', 'Burstable', 'BestEffort'];

/** status.qosClass checked; `where` names the object for the message. */
export function parseQosClass(value: unknown, where = 'pod'): QosClass {
  if (typeof value === 'string' && (QOS_CLASSES as readonly string[]).includes(value)) {
    return value as QosClass;
  }
  throw new Error(
    `${where}: status.qosClass is ${JSON.stringify(value)}, expected one of ${QOS_CLASSES.join(', ')}`,
  );
}

// Pod UIDs are UUIDs; static pods use the kubelet's config hash (32 hex
// digits). Anything else would be a path, so it is refused.
const UID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

export function checkPodUid(uid: string): void {
  if (!UID.test(uid)) {
    throw new Error(`pod uid ${JSON.stringify(uid)}: expected a UUID (letters, digits, '-')`);
  }
}

/** The annotation that carries a static pod's own UID on its mirror pod. */
export const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';

/**
 * The UID the kubelet names the pod cgroup after: metadata.uid, except for a
 * static pod, whose mirror object in the API has a UID of its own and carries
 * the kubelet's one in the config.mirror annotation.
 */
export function cgroupUid(meta: { uid: string; annotations?: Record<string, string> }): string {
  return meta.annotations?.[MIRROR_ANNOTATION] || meta.uid;
}

/**
 * How pod cgroups are named somewhere under the cgroup root. The kubelet's
 * layouts are built by kubeletLayout; anything else that puts each pod in a
 * directory of its own can be described too (tests use one for the sandbox).
 */
export interface PodCgroupLayout {
  /** For messages: which layout a path came from. */
  readonly name: string;
  /** Paths relative to the cgroup root where this pod's cgroup would be, most likely first. */
  candidates(uid: string, qos: QosClass): string[];
  /** The pod UID a directory name stands for when it is a pod cgroup (used by the scan). */
  podUid(dirName: string): string | undefined;
}

const QOS_LEVEL: Record<QosClass, string | undefined> = {
  Guaranteed: undefined,
  Burstable: 'burstable',
  BestEffort: 'besteffort',
};

const SYSTEMD_POD = /-pod([0-9A-Fa-f_]{32,36})\.slice$/;
const CGROUPFS_POD = /^pod([0-9A-Fa-f-]{32,36})$/;

/** A pod UID from a kubelet pod cgroup name of either driver. */
export function kubeletPodUid(dirName: string): string | undefined {
  const s = SYSTEMD_POD.exec(dirName);
  // systemd reserves '-' for nesting, so the kubelet writes the UID's dashes as '_'.
  if (s) return s[1]!.replaceAll('_', '-');
  return CGROUPFS_POD.exec(dirName)?.[1];
}

/**
 * The kubelet's layout under one "kubepods" directory (relative to the cgroup
 * root). A name ending in `.slice` means the systemd driver, whose slice names
 * repeat their parents' (kubepods.slice/kubepods-burstable.slice/
 * kubepods-burstable-pod<uid_>.slice); anything else means cgroupfs
 * (kubepods/burstable/pod<uid>). Guaranteed pods have no QoS level.
 */
export function kubeletLayout(kubepodsDir: string): PodCgroupLayout {
  const dir = posix.normalize(kubepodsDir).replace(/^\/+|\/+$/g, '');
  const base = basename(dir);
  if (base.endsWith('.slice')) {
    const prefix = base.slice(0, -'.slice'.length);
    return {
      name: `systemd ${dir}`,
      candidates(uid, qos) {
        const u = uid.replaceAll('-', '_');
        const level = QOS_LEVEL[qos];
        if (!level) return [`${dir}/${prefix}-pod${u}.slice`];
        return [`${dir}/${prefix}-${level}.slice/${prefix}-${level}-pod${u}.slice`];
      },
      podUid: kubeletPodUid,
    };
  }
  return {
    name: `cgroupfs ${dir}`,
    candidates(uid, qos) {
      const level = QOS_LEVEL[qos];
      return [level ? `${dir}/${level}/pod${uid}` : `${dir}/pod${uid}`];
    },
    podUid: kubeletPodUid,
  };
}

/**
 * Where kubelets put kubepods: the defaults of both drivers, and the
 * `kubelet` cgroup root that kind configures. Prefixes a runtime adds from
 * outside (k3d's or kind's node container seen from the host) are not
 * guessable: configure them, or let the scan find them.
 */
export const DEFAULT_KUBEPODS_DIRS: readonly string[] = [
  'kubepods.slice',
  'kubepods',
  'kubelet.slice/kubelet-kubepods.slice',
  'kubelet/kubepods',
];

export function defaultLayouts(dirs: readonly string[] = DEFAULT_KUBEPODS_DIRS): PodCgroupLayout[] {
  return dirs.map(kubeletLayout);
}

export interface PodCgroupCandidate {
  readonly layout: string;
  readonly path: string;
}

/** Every relative path the pod's cgroup may have, in the order they are tried. */
export function podCgroupCandidates(
  uid: string,
  qos: QosClass,
  layouts: readonly PodCgroupLayout[] = defaultLayouts(),
): PodCgroupCandidate[] {
  checkPodUid(uid);
  const out: PodCgroupCandidate[] = [];
  for (const l of layouts) {
    for (const path of l.candidates(uid, qos)) out.push({ layout: l.name, path });
  }
  return out;
}

/**
 * Child cgroups of a pod that hold runtime helpers, not pod processes: CRI-O's
 * conmon (crio-conmon-<id>.scope with systemd, crio-conmon-<id> with
 * cgroupfs) runs in the host's netns and would otherwise make every pod look
 * host-networked while its containers start.
 */
export function isRuntimeHelperCgroup(dirName: string): boolean {
  return dirName.startsWith('crio-conmon-');
}
