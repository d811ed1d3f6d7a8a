// The shipped examples parse cleanly with the agent's own manifest parser.
import { readdirSync, readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { parseManifestFile } from '../../agent/src/sources/manifests/index.ts';

const dir = new URL('../../examples/', import.meta.url).pathname;

it.each(readdirSync(dir).filter((f) => f.endsWith('.yaml')))('examples/%s is valid', (f) => {
  const r = parseManifestFile(f, readFileSync(`${dir}${f}`, 'utf8'));
  expect(r.errors).toEqual([]);
  expect(r.objects.length).toBeGreaterThan(0);
});
