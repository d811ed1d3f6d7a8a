// Pod → cgroup and network namespace discovery on a Kubernetes node, from the
// pod's UID and QoS class. See docs/kubernetes-discovery.md.
export {
  cgroupUid,
  checkPodUid,
  DEFAULT_KUBEPODS_DIRS,
  defaultLayouts,
  isRuntimeHelperCgroup,
  kubeletLayout,
  kubeletPodUid,
  MIRROR_ANNOTATION,
  type PodCgroupCandidate,
  type PodCgroupLayout,
  parseQosClass,
  podCgroupCandidates,
  QOS_CLASSES,
  type QosClass,
} from './layout.ts';
export { type PinnedNetns, pinNetns } from './pin.ts';
export { netnsInode } from './probe.ts';
export {
  DEFAULT_SCAN,
  type DiscoveryOptions,
  PodDiscovery,
  type PodHostNetwork,
  type PodMissing,
  type PodPending,
  type PodReady,
  type PodResolution,
  type ScanOptions,
} from './resolve.ts';
export { type OnPodChange, PodWatcher, resolutionKey, type WatchOptions } from './watch.ts';
