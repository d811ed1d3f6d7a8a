// The native addon's surface, typed. Everything here is a thin call into
// native/src; the classes in this folder give it shape.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface ProgramInfo {
  name: string;
  section: string;
  type: string;
  attachType: string;
  fd: number;
}

export interface ObjectMapInfo {
  name: string;
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  fd: number;
  pinPath: string | null;
}

export interface KernelMapInfo {
  id: number;
  name: string;
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
}

export interface KernelLinkInfo {
  id: number;
  progId: number;
  type: string;
  attachType?: string;
  cgroupId?: bigint;
  netnsIno?: number;
}

export interface BtfMember {
  name: string;
  bitOffset: number;
  bitSize: number;
  size: number;
  type: string;
}

export interface BtfStruct {
  name: string;
  size: number;
  members: BtfMember[];
}

export interface NetnsSocketOptions {
  family?: 4 | 6;
  type?: 'tcp' | 'udp';
  address?: string;
  port?: number;
  backlog?: number;
  reuseAddr?: boolean;
  reusePort?: boolean;
  transparent?: boolean;
  v6only?: boolean;
  /** IP_BIND_ADDRESS_NO_PORT: bind the address now, pick the port at connect(). */
  bindNoPort?: boolean;
  /** TCP_NODELAY from the start (a listener's accepted sockets inherit it). */
  noDelay?: boolean;
  /** SO_LINGER {1,0} from the start: closed, the socket resets its peer. */
  abortive?: boolean;
}

/** One direction of a relayed connection as the relay holds it (relayExport, relayImport). */
export interface RelayDirection {
  pipeRead: number;
  pipeWrite: number;
  /** Bytes read from the source and waiting in the pipe. */
  inPipe: number;
  eof: boolean;
  shut: boolean;
  bytes: number;
}

/** A relayed connection taken out of the relay: both sockets, both pipes, their state. */
export interface MovedRelay {
  /** The exporting process's relay id. */
  id: number;
  a: number;
  b: number;
  ab: RelayDirection;
  ba: RelayDirection;
}

export interface NativeBpfObject {
  load(): void;
  programs(): ProgramInfo[];
  maps(): ObjectMapInfo[];
  close(): void;
}

export interface NativeRingBuffer {
  close(): void;
  ref(): void;
  unref(): void;
  consume(): number;
}

/** A map through a duplicate fd of its own, its sizes read once; every call checks its buffers against them. */
export interface NativeMapHandle {
  readonly name: string;
  readonly keySize: number;
  /** Bytes of one value as passed (per possible CPU for per-CPU maps). */
  readonly valueSize: number;
  lookup(key: Buffer): Buffer | null;
  /** Lookup and delete in one call (hash maps): the value that was there, or null. */
  take(key: Buffer): Buffer | null;
  update(key: Buffer, value: Buffer, flags: number): void;
  delete(key: Buffer): boolean;
  nextKey(key: Buffer | null): Buffer | null;
  lookupBatch(chunk: number): { keys: Buffer; values: Buffer; count: number };
  close(): void;
}

export interface Native {
  BpfObject: new (path: string, pinRoot: string | null) => NativeBpfObject;
  MapHandle: new (fd: number) => NativeMapHandle;
  RingBuffer: new (fd: number, cb: (records: Buffer[]) => void) => NativeRingBuffer;
  mapLookup(fd: number, key: Buffer, valueSize: number): Buffer | null;
  mapUpdate(fd: number, key: Buffer, value: Buffer, flags: number): void;
  mapDelete(fd: number, key: Buffer): boolean;
  mapNextKey(fd: number, key: Buffer | null, keySize: number): Buffer | null;
  mapLookupBatch(
    fd: number,
    keySize: number,
    valueSize: number,
    chunk: number,
  ): { keys: Buffer; values: Buffer; count: number };
  linkCreate(progFd: number, targetFd: number, attachType: string): number;
  linkDetach(linkFd: number): void;
  linkUpdate(linkFd: number, progFd: number): void;
  progAttach(progFd: number, targetFd: number, attachType: string, flags: number): void;
  progDetach(progFd: number, targetFd: number, attachType: string): void;
  progQuery(targetFd: number, attachType: string): number[];
  objPin(fd: number, path: string): void;
  objGet(path: string): number;
  mapInfo(fd: number): KernelMapInfo;
  linkInfo(fd: number): KernelLinkInfo;
  dupFd(fd: number): number;
  closeFd(fd: number): void;
  /** Starts the kernel relay thread; done(id, bytes a→b, bytes b→a, reset) per finished relay. */
  relayStart(done: (id: number, ab: number, ba: number, reset: boolean) => void): void;
  /** Relays two connected TCP sockets (fds are duplicated; close yours). Returns the relay id. */
  relayAdd(fdA: number, fdB: number): number;
  /** Takes every live relay out (fds and state become the caller's), for another process. */
  relayExport(): MovedRelay[];
  /** Relays a connection another process exported; the fds become the relay's. Returns its id. */
  relayImport(m: MovedRelay): number;
  /** A unix SOCK_SEQPACKET listener at path (mode 0600), non-blocking. */
  fdListen(path: string): number;
  /** A waiting connection with its peer's credentials, or null. */
  fdAccept(fd: number): { fd: number; pid: number; uid: number } | null;
  fdConnect(path: string): number;
  /** One message with fds (SCM_RIGHTS); false when the socket is full (try again). */
  fdSend(fd: number, data: Buffer, fds: number[]): boolean;
  /** One message and its fds, or null when none is waiting; empty data means the peer closed. */
  fdRecv(fd: number): { data: Buffer; fds: number[] } | null;
  /** Fds one fdSend carries at most. */
  readonly fdMaxPerMessage: number;
  /** Resets both sockets of a relayed pair (RST); its done callback follows with reset. No-op once finished. */
  relayReset(id: number): void;
  /** SO_LINGER {1,0} on a socket (on) or off: whether its close, or the process's end, sends RST. */
  socketAbortive(fd: number, on: boolean): void;
  netnsSocket(netnsPath: string, opts: NetnsSocketOptions): number;
  netnsSockets(netnsPath: string, opts: NetnsSocketOptions, count: number): number[];
  btfStructs(objectPath: string, prefix: string): BtfStruct[];
  /** Feature probes (check/features.ts): names as libbpf spells them. */
  probeProgType(name: string): boolean;
  probeMapType(name: string): boolean;
  probeHelper(progType: string, helperId: number): boolean;
  /** An enum constant's value in the kernel's BTF; null when the kernel lacks it. */
  kernelEnumValue(enumName: string, value: string): number | null;
  /** Frees the kernel BTF kernelEnumValue parsed and kept (about 5 MiB); the next call parses it again. */
  releaseKernelBtf(): void;
  /** malloc_trim(0) on the thread pool: the C allocator's free pages back to the kernel; whether any were. */
  mallocTrim(): Promise<boolean>;
  /** Bytes in the C allocator's free chunks (mallinfo2 fordblks; trimmed ones included). */
  mallocFreeBytes(): number;
}

/** An Error from the addon: errno and code always, libbpf's words where it had any. */
export interface NativeError extends Error {
  errno: number;
  code: string;
  syscall: string;
  libbpfLog?: string;
  verifierLog?: string;
}

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const addonPath = `${repoRoot}build/native/Release/weft_native.node`;

let cached: Native | undefined;

/** Loads the addon once; a clear error says how to build it when it is missing. */
export function native(): Native {
  if (cached) return cached;
  if (!existsSync(addonPath)) {
    throw new Error(`weft native addon not built (${addonPath}); run: make build`);
  }
  cached = createRequire(import.meta.url)(addonPath) as Native;
  return cached;
}
