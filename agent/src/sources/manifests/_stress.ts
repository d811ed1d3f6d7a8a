import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManifestSource } from './source.ts';
process.on('uncaughtException', (e) => { console.log('UNCAUGHT', e); process.exitCode = 1; });
process.on('unhandledRejection', (e) => { console.log('UNHANDLED', e); process.exitCode = 1; });
const dir = await mkdtemp(join(tmpdir(), 'weft-stress-'));
const src = new ManifestSource(dir);
await src.start();
let snaps = 0; src.on('snapshot', () => snaps++);
for (let i = 0; i < 200; i++) {
  const d = join(dir, `d${i % 7}`, `e${i % 3}`);
  await mkdir(d, { recursive: true });
  await writeFile(join(d, `n${i}.yaml`), `apiVersion: v1\nkind: Namespace\nmetadata: {name: n${i}}\n`);
  if (i % 5 === 0) await rm(join(dir, `d${i % 7}`), { recursive: true, force: true });
}
await new Promise((r) => setTimeout(r, 1000));
const names = src.current().namespaces.size;
const { readdir } = await import('node:fs/promises');
const onDisk = (await readdir(dir, { recursive: true })).filter((f) => f.endsWith('.yaml')).length;
console.log({ snaps, names, onDisk, errors: src.errors().length });
src.close();
await rm(dir, { recursive: true, force: true });
