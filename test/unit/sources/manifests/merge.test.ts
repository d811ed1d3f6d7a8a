import { describe, expect, it } from 'vitest';
import { LastGood } from '../../../../agent/src/sources/manifests/merge.ts';
import {
  type ParseResult,
  parseManifestFile,
} from '../../../../agent/src/sources/manifests/parse.ts';

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
const svc = (name: string) =>
  `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}, namespace: shop}\nspec: {ports: [{port: 80}]}\n`;

/** A directory: path → file text. */
function dir(files: Record<string, string>): Map<string, ParseResult> {
  return new Map(Object.entries(files).map(([f, t]) => [f, parseManifestFile(f, t)]));
}

describe('LastGood', () => {
  it('publishes version 1 first, keyed as the state types say', () => {
    const lg = new LastGood();
    expect(lg.current().version).toBe(0);
    const r = lg.apply(dir({ 'a.yaml': `${ns('shop')}---\n${pod('web-1')}---\n${svc('web')}` }));
    expect(r.changed).toBe(true);
    expect(r.errors).toEqual([]);
    expect(r.snapshot.version).toBe(1);
    expect([...r.snapshot.namespaces.keys()]).toEqual(['shop']);
    expect([...r.snapshot.pods.keys()]).toEqual(['shop/web-1']);
    expect([...r.snapshot.services.keys()]).toEqual(['shop/web']);
    expect(r.snapshot.pods.get('shop/web-1')?.ports).toEqual([
      { containerPort: 8080, protocol: 'TCP' },
    ]);
    expect(lg.current()).toBe(r.snapshot);
  });

  it('publishes an empty directory once', () => {
    const lg = new LastGood();
    expect(lg.apply(dir({})).snapshot.version).toBe(1);
    expect(lg.apply(dir({})).changed).toBe(false);
  });

  it('bumps the version only when the objects really change', () => {
    const lg = new LastGood();
    const first = lg.apply(dir({ 'a.yaml': ns('shop'), 'b.yaml': pod('web-1') })).snapshot;
    // Re-saved, reordered, reformatted: same objects.
    const same = lg.apply(
      dir({ 'b.yaml': `# touched\n${pod('web-1')}`, 'a.yaml': `---\n${ns('shop')}` }),
    );
    expect(same.changed).toBe(false);
    expect(same.snapshot).toBe(first);
    const moved = lg.apply(dir({ 'a.yaml': ns('shop'), 'b.yaml': pod('web-1', 9090) }));
    expect(moved.changed).toBe(true);
    expect(moved.snapshot.version).toBe(2);
    expect(moved.snapshot.pods.get('shop/web-1')?.ports[0]?.containerPort).toBe(9090);
    const labelled = lg.apply(
      dir({ 'a.yaml': ns('shop', '{weft.dev/mesh: enabled}'), 'b.yaml': pod('web-1', 9090) }),
    );
    expect(labelled.snapshot.version).toBe(3);
    expect(labelled.snapshot.namespaces.get('shop')?.labels).toEqual({
      'weft.dev/mesh': 'enabled',
    });
  });

  it('keeps what a file held while its YAML does not parse', () => {
    const lg = new LastGood();
    lg.apply(dir({ 'a.yaml': `${ns('shop')}---\n${pod('web-1')}` }));
    const r = lg.apply(dir({ 'a.yaml': `${ns('shop')}---\nkind: [Pod\n` }));
    expect(r.changed).toBe(false);
    expect(r.snapshot.version).toBe(1);
    expect([...r.snapshot.pods.keys()]).toEqual(['shop/web-1']);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({ file: 'a.yaml', object: 'document 2', field: '' });
    // Fixed: its new content counts again, and the error is gone.
    const fixed = lg.apply(dir({ 'a.yaml': ns('shop') }));
    expect(fixed.errors).toEqual([]);
    expect(fixed.snapshot.pods.size).toBe(0);
    expect(fixed.snapshot.version).toBe(2);
  });

  it('gives a never-parsed broken file nothing but its error', () => {
    const lg = new LastGood();
    const r = lg.apply(dir({ 'a.yaml': 'kind: [Pod\n', 'b.yaml': ns('shop') }));
    expect([...r.snapshot.namespaces.keys()]).toEqual(['shop']);
    expect(r.errors.map((e) => e.file)).toEqual(['a.yaml']);
  });

  it('keeps the last good version of an object that became invalid', () => {
    const lg = new LastGood();
    lg.apply(dir({ 'a.yaml': `${pod('web-1')}---\n${pod('web-2')}` }));
    const r = lg.apply(dir({ 'a.yaml': `${pod('web-1', 'http')}---\n${pod('web-2', 9090)}` }));
    expect(r.errors).toEqual([
      {
        file: 'a.yaml',
        object: 'Pod shop/web-1',
        field: 'spec.containers[0].ports[0].containerPort',
        message: 'expected a port number from 1 to 65535, found the string "http"',
      },
    ]);
    expect(r.snapshot.pods.get('shop/web-1')?.ports[0]?.containerPort).toBe(8080);
    expect(r.snapshot.pods.get('shop/web-2')?.ports[0]?.containerPort).toBe(9090);
    // Still kept when the file then stops parsing: the file's last good parse named it.
    const broken = lg.apply(dir({ 'a.yaml': 'kind: [' }));
    expect([...broken.snapshot.pods.keys()]).toEqual(['shop/web-1', 'shop/web-2']);
  });

  it('leaves out an invalid object that never was valid', () => {
    const lg = new LastGood();
    const r = lg.apply(dir({ 'a.yaml': `${pod('web-1', 0)}---\n${ns('shop')}` }));
    expect(r.snapshot.pods.size).toBe(0);
    expect(r.snapshot.namespaces.size).toBe(1);
    expect(r.errors).toHaveLength(1);
  });

  it('removes the objects of a removed file', () => {
    const lg = new LastGood();
    lg.apply(dir({ 'a.yaml': ns('a'), 'b.yaml': ns('b') }));
    const r = lg.apply(dir({ 'a.yaml': ns('a') }));
    expect(r.changed).toBe(true);
    expect([...r.snapshot.namespaces.keys()]).toEqual(['a']);
    // Back, but broken: nothing of its old self returns.
    const back = lg.apply(dir({ 'a.yaml': ns('a'), 'b.yaml': 'kind: [' }));
    expect([...back.snapshot.namespaces.keys()]).toEqual(['a']);
    expect(back.changed).toBe(false);
  });

  it('lets the first file (by path) win an object defined twice, and blames the later one', () => {
    const lg = new LastGood();
    const r = lg.apply(
      dir({ 'z.yaml': ns('shop', '{from: z}'), 'a/x.yaml': ns('shop', '{from: a}') }),
    );
    expect(r.snapshot.namespaces.get('shop')?.labels).toEqual({ from: 'a' });
    expect(r.errors).toEqual([
      {
        file: 'z.yaml',
        object: 'Namespace shop',
        field: '',
        message:
          'expected each object once in the directory, found Namespace shop already defined in a/x.yaml; that definition wins',
      },
    ]);
    // The first goes away: the second takes over, and the error clears.
    const after = lg.apply(dir({ 'z.yaml': ns('shop', '{from: z}') }));
    expect(after.errors).toEqual([]);
    expect(after.snapshot.namespaces.get('shop')?.labels).toEqual({ from: 'z' });
  });

  it('blames the second definition within one file', () => {
    const lg = new LastGood();
    const r = lg.apply(
      dir({ 'a.yaml': `${ns('shop', '{n: "1"}')}---\n${ns('shop', '{n: "2"}')}` }),
    );
    expect(r.snapshot.namespaces.get('shop')?.labels).toEqual({ n: '1' });
    expect(r.errors).toEqual([
      {
        file: 'a.yaml',
        object: 'Namespace shop',
        field: '',
        message:
          'expected each object once in the directory, found Namespace shop already defined earlier in this file; that definition wins',
      },
    ]);
  });

  it('lets an invalid first definition hold its last good version against a later file', () => {
    const lg = new LastGood();
    lg.apply(dir({ 'a.yaml': pod('web-1', 8080) }));
    const r = lg.apply(dir({ 'a.yaml': pod('web-1', 'x'), 'b.yaml': pod('web-1', 9090) }));
    expect(r.snapshot.pods.get('shop/web-1')?.ports[0]?.containerPort).toBe(8080);
    expect(r.errors.map((e) => [e.file, e.field])).toEqual([
      ['a.yaml', 'spec.containers[0].ports[0].containerPort'],
      ['b.yaml', ''],
    ]);
  });

  it('does not confuse kinds or namespaces that share a name', () => {
    const lg = new LastGood();
    const r = lg.apply(
      dir({
        'a.yaml': `${ns('web')}---\n${svc('web')}---\n${pod('web')}`,
        'b.yaml': pod('web').replace('namespace: shop', 'namespace: other'),
      }),
    );
    expect(r.errors).toEqual([]);
    expect(r.snapshot.namespaces.size).toBe(1);
    expect(r.snapshot.services.size).toBe(1);
    expect([...r.snapshot.pods.keys()]).toEqual(['other/web', 'shop/web']);
  });
});
