import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderHeader } from '../../../agent/src/datapath/header.ts';
import {
  Event,
  layoutSize,
  maps,
  OrigDst,
  place,
  type StructSpec,
  structs,
} from '../../../agent/src/tables/layout.ts';

describe('layout placement', () => {
  it('places fields at C natural alignment', () => {
    const p = place(OrigDst);
    expect(p.fields.map((f) => [f.name, f.offset, f.size])).toEqual([
      ['addr', 0, 16],
      ['port', 16, 2],
      ['family', 18, 2],
      ['workload_id', 20, 4],
    ]);
    expect(p.size).toBe(24);
    expect(place(Event).size).toBe(64);
  });

  it('refuses a field that would need hidden padding', () => {
    const bad: StructSpec = {
      name: 'weft_bad',
      doc: '',
      fields: [
        { name: 'a', type: 'u8' },
        { name: 'b', type: 'u32' },
      ],
    };
    expect(() => place(bad)).toThrow('weft_bad.b: offset 1 needs explicit padding');
  });

  it('refuses hidden tail padding', () => {
    const bad: StructSpec = {
      name: 'weft_tail',
      doc: '',
      fields: [
        { name: 'a', type: 'u64' },
        { name: 'b', type: 'u8' },
      ],
    };
    expect(() => place(bad)).toThrow('weft_tail: size 9 needs explicit tail padding to 8');
  });

  it('places every shipped struct, and sizes scalars', () => {
    for (const s of structs) expect(() => place(s)).not.toThrow();
    expect(layoutSize('u64')).toBe(8);
    expect(layoutSize('be16')).toBe(2);
  });

  it('names every map once and gives non-ring maps a key and value', () => {
    const names = maps.map((m) => m.name);
    expect(new Set(names).size).toBe(names.length);
    for (const m of maps) {
      if (m.type === 'ringbuf') expect(m.record).toBeDefined();
      else expect(m.key && m.value).toBeTruthy();
    }
  });
});

describe('generated C header', () => {
  const header = renderHeader();

  it('is the committed bpf/include/layout.h (run make layout after editing layout.ts)', () => {
    const committed = readFileSync(
      new URL('../../../bpf/include/layout.h', import.meta.url),
      'utf8',
    );
    expect(committed).toBe(header);
  });

  it('declares structs field by field and pins maps by name', () => {
    expect(header).toContain(
      'struct weft_orig_dst {\n\t__u8 addr[16];\n\t__be16 port;\n\t__u16 family;\n\t__u32 workload_id;\n};',
    );
    expect(header).toMatch(
      /struct \{\n\t__uint\(type, BPF_MAP_TYPE_HASH\);\n\t__type\(key, __u64\);\n\t__type\(value, struct weft_workload\);\n\t__uint\(max_entries, 16384\);\n\t__uint\(pinning, LIBBPF_PIN_BY_NAME\);\n\} enrolled SEC\("\.maps"\);/,
    );
    expect(header).toContain('#define WEFT_PORT_OUTBOUND 15001');
    expect(header).toContain('struct weft_event *const __weft_record_events = 0;');
  });
});
