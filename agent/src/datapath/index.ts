// The datapath component: load objects, attach programs, read and write maps,
// consume events, and open sockets in other namespaces.

export { layout } from '../tables/index.ts';
export {
  attachCgroup,
  attachedPrograms,
  attachNetns,
  attachSkMsg,
  Link,
  MapAttachment,
} from './attach.ts';
export { type Addr, type Codec, codecFor, type Decoded, decodeAddr, encodeAddr } from './codec.ts';
export { type DatapathEvent, decodeEvent, EventStream } from './events.ts';
export { BpfMap, checkMapInfo, mapSpec, UpdateFlags } from './map.ts';
export type { MovedRelay, NetnsSocketOptions, RelayDirection } from './native.ts';
export { type NativeError, native, repoRoot } from './native.ts';
export { connectInNetns, listenInNetns, netnsSocket } from './netns.ts';
export { type EnrolledEntry, INBOUND_V6_SLOT, NodeDatapath } from './node.ts';
export { LoadedObject, type LoadOptions, loadObject, Program } from './object.ts';
export type { Mount } from './system.ts';
export { BPFFS, cgroup2Root, cgroupId, ensureBpffs, parseMounts } from './system.ts';
