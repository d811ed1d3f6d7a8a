import { once } from 'node:events';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManifestSource } from '../../../../agent/src/sources/manifests/source.ts';
import type { ObjectError, Snapshot } from '../../../../agent/src/state/types.ts';

const ns = (name: string, labels = '{}') =>
  `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${name}, labels: ${labels}}\n`;
const pod = (name: string, port: number | string = 8080) =>
  `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: shop}
spec:
  nodeName: node-a
  containers: [{name: app, ports: [{containerPort: ${port}}]}]
`;

let dir: string;
let source: ManifestSource | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-manifests-'));
});

afterEach(async () => {
  source?.close();
  source = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function started(opts?: ConstructorParameters<typeof ManifestSource>[1]) {
  source = new ManifestSource(dir, opts);
  return { src: source, first: await source.start() };
}

/** The next event of that name, or a rejection after 3 s. */
async function next<E extends 'snapshot' | 'errors'>(src: ManifestSource, event: E) {
  const [value] = await once(src, event, { signal: AbortSignal.timeout(3000) });
  return value as E extends 'snapshot' ? Snapshot : ObjectError[];
}

/** Resolves with how many snapshots arrived within ms. */
async function snapshotsWithin(src: ManifestSource, ms: number): Promise<number> {
  let n = 0;
  const count = () => n++;
  src.on('snapshot', count);
  await new Promise((r) => setTimeout(r, ms));
  src.off('snapshot', count);
  return n;
}

describe('ManifestSource', () => {
  it('refuses a missing directory, naming it', async () => {
    const missing = join(dir, 'nope');
    await expect(new ManifestSource(missing).start()).rejects.toThrow(
      `manifest directory ${missing} does not exist`,
    );
  });

  it('refuses a file in place of the directory', async () => {
    const file = join(dir, 'f.yaml');
    await writeFile(file, ns('a'));
    await expect(new ManifestSource(file).start()).rejects.toThrow(
      `manifest directory ${file} is not a directory`,
    );
  });

  it('reads .yaml, .yml and .json in the directory and below, and nothing else', async () => {
    await mkdir(join(dir, 'team/deep'), { recursive: true });
    await mkdir(join(dir, '.git'));
    await writeFile(join(dir, 'a.yaml'), ns('a'));
    await writeFile(join(dir, 'team/b.yml'), ns('b'));
    await writeFile(
      join(dir, 'team/deep/c.json'),
      '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"c"}}',
    );
    await writeFile(join(dir, '.hidden.yaml'), ns('hidden'));
    await writeFile(join(dir, '.git/x.yaml'), ns('git'));
    await writeFile(join(dir, 'a.yaml~'), ns('backup'));
    await writeFile(join(dir, '.#a.yaml'), ns('lock'));
    await writeFile(join(dir, '.a.yaml.swp'), 'binary');
    await writeFile(join(dir, 'a.yaml.swp'), 'binary');
    await writeFile(join(dir, 'README.md'), '# not a manifest');
    await symlink(join(dir, 'gone.yaml'), join(dir, 'dangling.yaml'));
    const { src, first } = await started();
    expect(first.version).toBe(1);
    expect([...first.namespaces.keys()]).toEqual(['a', 'b', 'c']);
    expect(src.errors()).toEqual([]);
    expect(src.current()).toBe(first);
  });

  it('publishes a new, an edited and a deleted file', async () => {
    await writeFile(join(dir, 'a.yaml'), ns('a'));
    const { src, first } = await started();
    expect(first.namespaces.size).toBe(1);

    let snap = next(src, 'snapshot');
    await writeFile(join(dir, 'b.yaml'), pod('web-1'));
    expect([...(await snap).pods.keys()]).toEqual(['shop/web-1']);

    snap = next(src, 'snapshot');
    await writeFile(join(dir, 'b.yaml'), pod('web-1', 9090));
    const edited = await snap;
    expect(edited.pods.get('shop/web-1')?.ports[0]?.containerPort).toBe(9090);
    expect(edited.version).toBe(3);

    snap = next(src, 'snapshot');
    await rm(join(dir, 'b.yaml'));
    const deleted = await snap;
    expect(deleted.pods.size).toBe(0);
    expect(deleted.version).toBe(4);
    expect(src.current()).toBe(deleted);
  });

  it('sees an editor that saves by renaming a temporary file over the original', async () => {
    await writeFile(join(dir, 'a.yaml'), ns('a'));
    const { src } = await started();
    const snap = next(src, 'snapshot');
    await writeFile(join(dir, '.a.yaml.tmp'), ns('a', '{saved: "yes"}'));
    await rename(join(dir, '.a.yaml.tmp'), join(dir, 'a.yaml'));
    expect((await snap).namespaces.get('a')?.labels).toEqual({ saved: 'yes' });
  });

  it('keeps the last good object through a broken edit and reports it', async () => {
    await writeFile(join(dir, 'a.yaml'), pod('web-1'));
    const { src, first } = await started();

    const errs = next(src, 'errors');
    let snapshots = 0;
    src.on('snapshot', () => snapshots++);
    await writeFile(join(dir, 'a.yaml'), pod('web-1', '"8080"'));
    expect(await errs).toEqual([
      {
        file: join(dir, 'a.yaml'),
        object: 'Pod shop/web-1',
        field: 'spec.containers[0].ports[0].containerPort',
        message: 'expected a port number from 1 to 65535, found the string "8080"',
      },
    ]);
    expect(snapshots).toBe(0);
    expect(src.current()).toBe(first);
    expect(src.current().pods.get('shop/web-1')?.ports[0]?.containerPort).toBe(8080);

    const yamlErrs = next(src, 'errors');
    await writeFile(join(dir, 'a.yaml'), 'kind: Pod\nmetadata: {name: [web-1\n');
    const [syntax] = await yamlErrs;
    expect(syntax).toMatchObject({ file: join(dir, 'a.yaml'), object: 'document 1', field: '' });
    expect(syntax?.message).toMatch(/^YAML syntax error at line \d+, column \d+: /);
    expect(src.current()).toBe(first);

    const cleared = next(src, 'errors');
    const snap = next(src, 'snapshot');
    await writeFile(join(dir, 'a.yaml'), pod('web-1', 9090));
    expect(await cleared).toEqual([]);
    expect((await snap).pods.get('shop/web-1')?.ports[0]?.containerPort).toBe(9090);
    expect(src.errors()).toEqual([]);
  });

  it('does not publish when a file is saved unchanged', async () => {
    await writeFile(join(dir, 'a.yaml'), ns('a'));
    const { src } = await started();
    await writeFile(join(dir, 'a.yaml'), `# same objects\n${ns('a')}`);
    expect(await snapshotsWithin(src, 700)).toBe(0);
    expect(src.current().version).toBe(1);
  });

  it('finds files in a directory made after start', async () => {
    const { src } = await started();
    const snap = next(src, 'snapshot');
    await mkdir(join(dir, 'later/deeper'), { recursive: true });
    await writeFile(join(dir, 'later/deeper/n.yaml'), ns('n'));
    expect([...(await snap).namespaces.keys()]).toEqual(['n']);
  });

  it('notices changes by polling alone', async () => {
    await writeFile(join(dir, 'a.yaml'), ns('a'));
    const { src } = await started({ watch: false, pollMs: 100 });
    let snap = next(src, 'snapshot');
    await writeFile(join(dir, 'a.yaml'), ns('a', '{polled: "yes"}'));
    expect((await snap).namespaces.get('a')?.labels).toEqual({ polled: 'yes' });
    snap = next(src, 'snapshot');
    await rm(join(dir, 'a.yaml'));
    expect((await snap).namespaces.size).toBe(0);
  });

  it('reports errors present at start without emitting them', async () => {
    await writeFile(join(dir, 'a.yaml'), `${ns('a')}---\n${pod('web-1', 0)}`);
    const { src, first } = await started();
    expect(first.namespaces.size).toBe(1);
    expect(first.pods.size).toBe(0);
    expect(src.errors().map((e) => [e.object, e.field])).toEqual([
      ['Pod shop/web-1', 'spec.containers[0].ports[0].containerPort'],
    ]);
  });

  it('keeps the last state while the directory is gone', async () => {
    await writeFile(join(dir, 'a.yaml'), ns('a'));
    const { src, first } = await started();
    const errs = next(src, 'errors');
    await rm(dir, { recursive: true });
    const [gone] = await errs;
    expect(gone).toMatchObject({ file: dir, object: '', field: '' });
    expect(gone?.message).toMatch(/keeping the last state$/);
    expect(src.current()).toBe(first);
    const cleared = next(src, 'errors');
    await mkdir(dir);
    await writeFile(join(dir, 'a.yaml'), ns('a'));
    expect(await cleared).toEqual([]);
  });

  it('publishes nothing after close', async () => {
    const { src } = await started({ pollMs: 50 });
    src.close();
    await writeFile(join(dir, 'a.yaml'), ns('a'));
    expect(await snapshotsWithin(src, 400)).toBe(0);
  });
});
