// The Vagrant rig's files that can be checked without VMs: its provisioning scripts parse,
// and its demo manifest validates against the Kubernetes schemas (its AuthorizationPolicy is
// checked against the CRD in crd.test.ts). `vagrant validate` is run by hand: vagrant is not
// a dependency of the test suite.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { validateObject } from './models.ts';
import { parseDocs, repo } from './render.ts';

const dir = `${repo}vagrant`;

describe('vagrant/', () => {
  it.each(readdirSync(dir).filter((f) => f.endsWith('.sh')))('%s is valid bash', (f) => {
    const r = spawnSync('bash', ['-n', `${dir}/${f}`], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('shop.yaml: an enrolled namespace whose objects validate', () => {
    const objs = parseDocs(readFileSync(`${dir}/shop.yaml`, 'utf8'), 'vagrant/shop.yaml');
    const ns = objs.find((o) => o.kind === 'Namespace');
    expect(ns?.metadata.labels).toEqual({ 'weft.dev/mesh': 'enabled' });
    const k8s = objs.filter((o) => o.kind !== 'AuthorizationPolicy');
    expect(k8s.length).toBeGreaterThan(5);
    for (const o of k8s) validateObject(o);
  });
});
