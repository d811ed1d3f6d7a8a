// Renders layout.ts as the C header the BPF programs include. Pure, so the
// "header is current" test and `make layout` share it.
import {
  constants,
  type FieldType,
  type Layout,
  type MapSpec,
  type MapType,
  maps,
  place,
  type StructSpec,
  structs,
} from '../tables/index.ts';

const cScalar: Record<string, string> = {
  u8: '__u8',
  u16: '__u16',
  u32: '__u32',
  u64: '__u64',
  be16: '__be16',
  be32: '__be32',
};

const cMapType: Record<MapType, string> = {
  array: 'BPF_MAP_TYPE_ARRAY',
  hash: 'BPF_MAP_TYPE_HASH',
  lru_hash: 'BPF_MAP_TYPE_LRU_HASH',
  ringbuf: 'BPF_MAP_TYPE_RINGBUF',
  sockmap: 'BPF_MAP_TYPE_SOCKMAP',
  sockhash: 'BPF_MAP_TYPE_SOCKHASH',
  lpm_trie: 'BPF_MAP_TYPE_LPM_TRIE',
};

function cField(name: string, t: FieldType): string {
  return typeof t === 'string' ? `${cScalar[t]} ${name};` : `__u8 ${name}[${t.bytes}];`;
}

function cType(l: Layout): string {
  return typeof l === 'string' ? cScalar[l]! : `struct ${l.name}`;
}

function renderStruct(s: StructSpec): string {
  const layout = place(s);
  const lines = layout.fields.map((fl) => `\t${cField(fl.name, fl.type)}`);
  return [`/* ${s.doc} (${layout.size} bytes) */`, `struct ${s.name} {`, ...lines, '};'].join('\n');
}

function renderMap(m: MapSpec): string {
  const body = [`\t__uint(type, ${cMapType[m.type]});`];
  if (m.key) body.push(`\t__type(key, ${cType(m.key)});`);
  if (m.value) body.push(`\t__type(value, ${cType(m.value)});`);
  body.push(`\t__uint(max_entries, ${m.maxEntries});`);
  if (m.type === 'lpm_trie') body.push('\t__uint(map_flags, BPF_F_NO_PREALLOC);');
  // Shared between objects and across agent restarts through the pin root.
  body.push('\t__uint(pinning, LIBBPF_PIN_BY_NAME);');
  const out = [`/* ${m.doc} */`, 'struct {', ...body, `} ${m.name} SEC(".maps");`];
  if (m.record) {
    // A ring buffer has no key or value type; this keeps its record type in
    // every object's BTF, for the layout test and for bpftool.
    out.push(`struct ${m.record.name} *const __weft_record_${m.name} = 0;`);
  }
  return out.join('\n');
}

export function renderHeader(): string {
  const defs = Object.entries(constants).map(([k, v]) => `#define WEFT_${k} ${v}`);
  return [
    '/* Generated from agent/src/tables/layout.ts by `make layout`. Do not edit. */',
    '#ifndef WEFT_LAYOUT_H',
    '#define WEFT_LAYOUT_H',
    '',
    ...defs,
    '',
    structs.map(renderStruct).join('\n\n'),
    '',
    maps.map(renderMap).join('\n\n'),
    '',
    '#endif',
    '',
  ].join('\n');
}
