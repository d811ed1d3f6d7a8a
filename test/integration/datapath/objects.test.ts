// Every compiled object loads into the running kernel; a rejected program
// reaches the caller with the verifier's log, and leaves nothing behind.
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  loadObject,
  type NativeError,
  native,
  repoRoot,
} from '../../../agent/src/datapath/index.ts';
import { describePrivileged } from '../../support/privileged.ts';
import { makeRig, type Rig } from '../../support/rig.ts';

const bpfDir = `${repoRoot}build/bpf`;
const objects = readdirSync(bpfDir).filter((f) => f.endsWith('.bpf.o'));

describePrivileged('BPF objects', () => {
  let rig: Rig;
  beforeAll(() => {
    rig = makeRig('objects');
  });
  afterAll(() => rig.teardown());

  it('finds the objects the build made', () => {
    expect(objects).toEqual(
      expect.arrayContaining(['sock_connect.bpf.o', 'sk_lookup.bpf.o', 'sock_ops.bpf.o']),
    );
  });

  it.each(objects)('loads %s into the kernel with every program verified', (file) => {
    const obj = loadObject(`${bpfDir}/${file}`);
    try {
      expect(obj.programNames().length).toBeGreaterThan(0);
      for (const name of obj.programNames()) {
        const prog = obj.program(name);
        expect(prog.fd).toBeGreaterThan(2);
        prog.close();
      }
    } finally {
      obj.close();
    }
  });

  it('shares maps between objects through a pin root and reopens them', () => {
    const pins = rig.pinDir();
    const a = loadObject(`${bpfDir}/sock_connect.bpf.o`, { pinRoot: pins });
    const b = loadObject(`${bpfDir}/sock_ops.bpf.o`, { pinRoot: pins });
    const n = native();
    try {
      const ma = a.map('meta');
      const mb = b.map('meta');
      expect(n.mapInfo(ma.fd).id).toBe(n.mapInfo(mb.fd).id);
      ma.close();
      mb.close();
    } finally {
      a.close();
      b.close();
    }
    // The objects are gone; the pinned maps are not, and a reload reuses them.
    expect(readdirSync(pins)).toEqual(expect.arrayContaining(['meta', 'enrolled', 'events']));
    const c = loadObject(`${bpfDir}/sock_connect.bpf.o`, { pinRoot: pins });
    c.close();
  });

  it('rejects a program the verifier refuses, with the verifier log in the error', () => {
    let err: NativeError | undefined;
    try {
      loadObject(`${repoRoot}build/test-bpf/verifier_reject.bpf.o`);
    } catch (e) {
      err = e as NativeError;
    }
    expect(err).toBeInstanceOf(Error);
    expect(err?.code).toBe('EACCES');
    expect(err?.errno).toBe(13);
    // The kernel's own words: the NULL-unchecked map value it refused.
    expect(err?.verifierLog).toMatch(/invalid mem access 'map_value_or_null'/);
    expect(err?.message).toContain('verifier log:');
    expect(err?.libbpfLog).toContain('weft_reject');
  });

  it('reports an object that does not exist with its path and ENOENT', () => {
    expect(() => loadObject(`${bpfDir}/nope.bpf.o`)).toThrow(
      expect.objectContaining({ code: 'ENOENT', message: expect.stringContaining('nope.bpf.o') }),
    );
  });
});
