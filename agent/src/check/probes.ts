// Load probes: each of weft's compiled objects goes into the kernel (every
// program through the verifier, every map created) and straight out again —
// nothing is pinned or attached. The map checks read what those loads created.
import { basename } from 'node:path';
import { type Check, type CheckEnv, type CheckResult, fail, type LoadProbe, ok } from './types.ts';

/** Verifier logs run to thousands of lines; the end says why. */
export const VERIFIER_TAIL = 30;

function tail(log: string, n: number): string {
  const lines = log.trimEnd().split('\n');
  const cut = lines.length > n ? [`... (${lines.length - n} earlier lines)`] : [];
  return [...cut, ...lines.slice(-n)].join('\n');
}

const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

function failedLoad(r: Extract<LoadProbe, { ok: false }>): CheckResult {
  const first = r.error.split('\n')[0]!;
  if (r.verifierLog) {
    return fail(
      `${first}\nverifier log:\n${tail(r.verifierLog, VERIFIER_TAIL)}`,
      'the kernel verifier rejected a program (log above); a kernel older than weft needs, or a build against another kernel, are the usual causes',
    );
  }
  const hint = /EPERM|EACCES/.test(first)
    ? 'not allowed: see the permissions above'
    : 'WEFT_LIBBPF_DEBUG=1 prints what libbpf said';
  return fail(first, hint);
}

export function objectCheck(path: string): Check {
  const file = basename(path);
  return {
    id: `probe.object.${file.replace(/\.bpf\.o$/, '')}`,
    title: `${file} loads and passes the verifier`,
    category: 'probes',
    run({ host }) {
      const r = host.loadObject(path);
      if (!r.ok) return failedLoad(r);
      const progs = r.programs.map((p) => `${p.name} (${p.type})`).join(', ');
      return {
        ...ok(
          `${count(r.programs.length, 'program')}: ${progs}; ${count(r.maps.length, 'map')}; nothing attached`,
        ),
        mapIds: r.maps.map((m) => m.id),
      };
    },
  };
}

function noObjects(dir: string): Check {
  return {
    id: 'probe.objects',
    title: "weft's BPF objects are built",
    category: 'probes',
    run: () => fail(`no *.bpf.o in ${dir}`, 'build them: make build'),
  };
}

const MAP_KINDS = [
  ['sockhash', 'a sockhash'],
  ['sockmap', 'a sockmap'],
  ['ringbuf', 'a ring buffer'],
  ['lpm_trie', 'an LPM trie'],
] as const;

function mapCheck(kind: string, label: string, objects: string[]): Check {
  return {
    id: `probe.map.${kind}`,
    title: `can create ${label} map`,
    category: 'probes',
    run({ host }: CheckEnv) {
      const failed: string[] = [];
      for (const path of objects) {
        const r = host.loadObject(path);
        if (!r.ok) {
          failed.push(basename(path));
          continue;
        }
        const m = r.maps.find((x) => x.type === kind);
        if (m) return { ...ok(`${m.name} in ${basename(path)}`), mapIds: [m.id] };
      }
      if (failed.length > 0)
        return fail(
          `not created: ${failed.join(', ')} did not load`,
          'see the object lines above for why',
        );
      return fail(`no object in this build declares a ${kind} map`, 'rebuild: make build');
    },
  };
}

/** The probe checks for the objects found in the build directory. */
export function probeChecks(dir: string, objects: string[]): Check[] {
  if (objects.length === 0) return [noObjects(dir)];
  return [
    ...objects.map(objectCheck),
    ...MAP_KINDS.map(([kind, label]) => mapCheck(kind, label, objects)),
  ];
}
