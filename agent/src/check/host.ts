// The real HostProbe: reads this machine's /proc and /sys, and loads objects
// through the datapath's own loader (no pin root: nothing is pinned; nothing
// is attached; closing the object releases every program and map).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { adminGet } from '../admin/index.ts';
import {
  BpfMap,
  checkMapInfo,
  type Decoded,
  loadObject,
  mapSpec,
  type NativeError,
  native,
  parseMounts,
} from '../datapath/index.ts';
import { maps as layoutMaps } from '../tables/index.ts';
import type { AgentStatus } from '../telemetry/index.ts';
import { effectiveCapabilities, memlockFromLimits } from './caps.ts';
import type { KernelProbe } from './features.ts';
import type { HostProbe, LoadProbe, PinnedMaps } from './types.ts';

/**
 * The running kernel's answers, through libbpf's probes and the kernel's own BTF. release()
 * gives back the parsed BTF (about 5 MiB) that enum answers keep between calls: a process
 * that lives on after its checks, the agent, calls it.
 */
export function nativeKernelProbe(): KernelProbe & { release(): void } {
  const n = native();
  return {
    progType: (name) => n.probeProgType(name),
    mapType: (name) => n.probeMapType(name),
    enumValue: (e, v) => n.kernelEnumValue(e, v),
    helper: (prog, id) => n.probeHelper(prog, id),
    release: () => n.releaseKernelBtf(),
  };
}

function read(path: string): string {
  return readFileSync(path, 'utf8');
}

function probeLoad(path: string): LoadProbe {
  let obj: ReturnType<typeof loadObject>;
  try {
    obj = loadObject(path);
  } catch (e) {
    const err = e as NativeError;
    return {
      ok: false,
      error: err.message,
      ...(err.verifierLog ? { verifierLog: err.verifierLog } : {}),
    };
  }
  try {
    const n = native();
    const maps = obj.mapNames().map((name) => {
      const fd = obj.mapFd(name);
      try {
        const info = n.mapInfo(fd);
        return { name, type: info.type, id: info.id };
      } finally {
        n.closeFd(fd);
      }
    });
    const programs = obj.programNames().map((name) => {
      const p = obj.program(name);
      p.close();
      return { name, type: p.type };
    });
    return { ok: true, programs, maps };
  } finally {
    obj.close();
  }
}

function pinnedMaps(dir: string): PinnedMaps {
  const n = native();
  const out: PinnedMaps = { maps: [], layoutVersion: null };
  for (const spec of layoutMaps) {
    const path = join(dir, spec.name);
    if (!existsSync(path)) {
      out.maps.push({ name: spec.name, present: false });
      continue;
    }
    const fd = n.objGet(path);
    try {
      checkMapInfo(spec, n.mapInfo(fd), path);
      out.maps.push({ name: spec.name, present: true });
    } catch (e) {
      out.maps.push({ name: spec.name, present: true, problem: (e as Error).message });
    } finally {
      n.closeFd(fd);
    }
  }
  if (out.maps.some((m) => m.name === 'meta' && m.present && !m.problem)) {
    const meta = BpfMap.openPinned<number, Decoded>(join(dir, 'meta'), mapSpec('meta'));
    try {
      out.layoutVersion = (meta.get(0)?.layout_version as number | undefined) || null;
    } finally {
      meta.close();
    }
  }
  return out;
}

/** This machine. Object loads are done once each and remembered. */
export function realHost(): HostProbe {
  const loads = new Map<string, LoadProbe>();
  return {
    kernelRelease: () => release(),
    kernel: nativeKernelProbe,
    exists: (path) => existsSync(path),
    readFile(path) {
      try {
        return read(path);
      } catch {
        return null;
      }
    },
    mounts: () => parseMounts(read('/proc/self/mounts')),
    capabilities: () => effectiveCapabilities(read('/proc/self/status')),
    memlockLimit: () => memlockFromLimits(read('/proc/self/limits')),
    bpfObjects(dir) {
      if (!existsSync(dir)) return [];
      return readdirSync(dir)
        .filter((f) => f.endsWith('.bpf.o'))
        .sort()
        .map((f) => join(dir, f));
    },
    loadObject(path) {
      let r = loads.get(path);
      if (!r) {
        r = probeLoad(path);
        loads.set(path, r);
      }
      return r;
    },
    agentStatus: (socket) => adminGet<AgentStatus>(socket, '/status'),
    pinnedMaps,
  };
}
