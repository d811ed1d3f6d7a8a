// The TS layout equals what the compiler produced: every struct in every
// compiled object's BTF, field by field (name, offset, size, C type).
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { native, repoRoot } from '../../../agent/src/datapath/native.ts';
import { type FieldType, place, structs } from '../../../agent/src/tables/layout.ts';

const bpfDir = `${repoRoot}build/bpf`;
const objects = readdirSync(bpfDir).filter((f) => f.endsWith('.bpf.o'));

const cName = (t: FieldType) => (typeof t === 'string' ? `__${t}` : `__u8[${t.bytes}]`);

describe('TS layout vs compiled BTF', () => {
  it('has objects to check', () => {
    expect(objects.length).toBeGreaterThanOrEqual(3);
  });

  it.each(objects)('%s carries every weft struct exactly as layout.ts places it', (file) => {
    const btf = native().btfStructs(`${bpfDir}/${file}`, 'weft_');
    const byName = new Map(btf.map((s) => [s.name, s]));
    for (const spec of structs) {
      const want = place(spec);
      const got = byName.get(spec.name);
      expect(got, `${file}: struct ${spec.name} missing from BTF`).toBeDefined();
      expect({ name: got?.name, size: got?.size }).toEqual({ name: spec.name, size: want.size });
      expect(
        got?.members.map((m) => ({
          name: m.name,
          offset: m.bitOffset / 8,
          size: m.size,
          type: m.type,
          bitfield: m.bitSize,
        })),
      ).toEqual(
        want.fields.map((f) => ({
          name: f.name,
          offset: f.offset,
          size: f.size,
          type: cName(f.type),
          bitfield: 0,
        })),
      );
    }
  });

  it('finds no weft struct in BTF that layout.ts does not know', () => {
    const known = new Set(structs.map((s) => s.name));
    for (const file of objects) {
      for (const s of native().btfStructs(`${bpfDir}/${file}`, 'weft_')) {
        // Helper-argument structs private to one C file are not shared layout.
        if (s.name.endsWith('_args')) continue;
        expect(known.has(s.name), `${file}: ${s.name} is not in layout.ts`).toBe(true);
      }
    }
  });
});
