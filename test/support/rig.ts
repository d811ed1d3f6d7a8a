// Per-test-file host fixtures: namespaces, cgroups and pins named after the
// file and the process, so test files run in parallel, and swept when a
// previous run of the same file died before cleaning up.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BPFFS, cgroup2Root } from '../../agent/src/datapath/system.ts';
import { Cleanup } from '../../agent/src/sandbox/cleanup.ts';
import {
  addCgroup,
  addNetns,
  addPinDir,
  cgroupPath,
  delCgroupTree,
  delNetns,
  delPinDir,
  NETNS_DIR,
} from '../../agent/src/sandbox/host.ts';

const alive = (pid: number) => existsSync(`/proc/${pid}`);

/** Removes what earlier, dead runs of this file left behind. */
function sweep(tag: string): void {
  const re = new RegExp(`^weft-t-${tag}-(\\d+)`);
  const stale = (name: string) => {
    const m = re.exec(name);
    return m !== null && !alive(Number(m[1]));
  };
  if (existsSync(NETNS_DIR)) for (const n of readdirSync(NETNS_DIR)) if (stale(n)) delNetns(n);
  for (const c of readdirSync(cgroup2Root())) if (stale(c)) delCgroupTree(cgroupPath(c));
  const pins = join(BPFFS, 'weft');
  if (existsSync(pins)) for (const p of readdirSync(pins)) if (stale(p)) delPinDir(join(pins, p));
}

export interface Rig {
  name: string;
  cleanup: Cleanup;
  netns(suffix: string): { name: string; path: string };
  cgroup(suffix: string): string;
  pinDir(): string;
  /** Runs `fn` last: removes everything and throws if any step failed. */
  teardown(): void;
}

export function makeRig(tag: string): Rig {
  sweep(tag);
  const name = `weft-t-${tag}-${process.pid}`;
  const cleanup = new Cleanup();
  return {
    name,
    cleanup,
    netns(suffix) {
      const n = `${name}-${suffix}`;
      const path = addNetns(n);
      cleanup.add(`netns ${n}`, () => delNetns(n));
      return { name: n, path };
    },
    cgroup(suffix) {
      const dir = addCgroup(`${name}-${suffix}`);
      cleanup.add(`cgroup ${dir}`, () => delCgroupTree(dir));
      return dir;
    },
    pinDir() {
      const dir = addPinDir(name);
      cleanup.add(`pins ${dir}`, () => delPinDir(dir));
      return dir;
    },
    teardown() {
      const errors = cleanup.dispose();
      if (errors.length) throw new AggregateError(errors, errors.map((e) => e.message).join('; '));
    },
  };
}
