// make layout: writes bpf/include/layout.h from agent/src/tables/layout.ts.
import { writeFileSync } from 'node:fs';
import { renderHeader } from '../agent/src/datapath/header.ts';

const out = process.argv[2] ?? new URL('../bpf/include/layout.h', import.meta.url).pathname;
writeFileSync(out, renderHeader());
