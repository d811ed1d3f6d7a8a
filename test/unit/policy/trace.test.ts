// policy trace on manifests: every stage in order, the deciding object and rule,
// the final verdict; the CLI's JSON and its refusal of rejected manifests.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tracePolicy } from '../../../agent/src/policy/trace.ts';
import { loadManifests } from '../../../agent/src/sources/manifests/load.ts';

const fixture = new URL('../../fixtures/policy/shop.yaml', import.meta.url).pathname;
const m = loadManifests([fixture]);
const trace = (from: string, to: string, port: number, http?: { method: string; path: string }) =>
  tracePolicy({
    cluster: m.cluster,
    trustDomain: 'cluster.local',
    rootNamespace: 'weft-system',
    from,
    to,
    port,
    ...(http ? { http: { ...http, host: 'cart', headers: {} } } : {}),
  });

describe('policy trace', () => {
  it('loads the fixture without errors', () => {
    expect(m.errors).toEqual([]);
    expect(m.cluster.networkPolicies?.size).toBe(1);
    expect(m.cluster.authorizationPolicies?.size).toBe(1);
  });

  it('allows GET from the frontend through the Service, naming each deciding rule', () => {
    const t = trace('shop/frontend', 'shop/svc/cart', 80, { method: 'GET', path: '/items' });
    expect(t.verdict).toBe('allow');
    expect(t.stages.map((s) => [s.stage, s.result])).toEqual([
      ['balancer shop/cart:80', 'info'],
      ['service', 'info'],
      ['enrollment', 'info'],
      ['egress NetworkPolicy → shop/cart', 'allow'],
      ['egress NetworkPolicy', 'allow'],
      ['mTLS identity', 'info'],
      ['ingress NetworkPolicy', 'allow'],
      ['AuthorizationPolicy DENY', 'skip'],
      ['AuthorizationPolicy ALLOW', 'allow'],
      ['AuthorizationPolicy AUDIT', 'info'],
      ['L7', 'allow'],
    ]);
    expect(t.stages[0]?.reason).toMatch(/^no DestinationRule: EWMA/);
    expect(t.stages[6]).toMatchObject({ object: 'shop/cart-from-shop', rule: 0 });
    expect(t.stages[8]).toMatchObject({ object: 'shop/cart-reads', rule: 0 });
  });

  it('answers POST with a deny at L7', () => {
    const t = trace('shop/frontend', 'shop/cart', 8080, { method: 'POST', path: '/items' });
    expect(t.verdict).toBe('deny');
    expect(t.stages.at(-1)).toMatchObject({ stage: 'L7', result: 'deny' });
  });

  it('denies the intruder at ingress NetworkPolicy and by default-deny authorization', () => {
    const t = trace('intruder/evil', 'shop/cart', 8080);
    expect(t.verdict).toBe('deny');
    expect(t.stages.find((s) => s.stage === 'ingress NetworkPolicy')).toMatchObject({
      result: 'deny',
      object: 'shop/cart-from-shop',
    });
    expect(t.stages.find((s) => s.stage === 'mTLS identity')?.reason).toMatch(/plaintext peer/);
  });

  it('says why a target does not exist', () => {
    expect(trace('shop/frontend', 'shop/svc/nope', 80).stages).toEqual([
      { stage: 'service', result: 'deny', object: 'shop/nope', reason: 'no Service shop/nope' },
    ]);
    expect(trace('shop/frontend', 'shop/svc/cart', 81).stages[0]?.reason).toBe(
      'Service shop/cart has no TCP port 81',
    );
  });
});

describe('policy trace of UDP', () => {
  const udp = (from: string, to: string, port: number, strict = false) =>
    tracePolicy({
      cluster: strict
        ? {
            ...m.cluster,
            namespaces: new Map(
              [...m.cluster.namespaces].map(([n, v]) => [
                n,
                n === 'shop' ? { ...v, labels: { ...v.labels, 'weft.dev/mtls': 'strict' } } : v,
              ]),
            ),
          }
        : m.cluster,
      trustDomain: 'cluster.local',
      rootNamespace: 'weft-system',
      from,
      to,
      port,
      protocol: 'UDP',
    });

  it('evaluates NetworkPolicy for UDP: a rule for a TCP port admits no UDP', () => {
    const t = udp('shop/frontend', 'shop/cart', 8080);
    expect(t).toMatchObject({ verdict: 'deny', protocol: 'UDP' });
    expect(t.stages.map((s) => [s.stage, s.result])).toEqual([
      ['enrollment', 'info'],
      ['egress NetworkPolicy', 'allow'],
      ['mTLS identity', 'info'],
      ['ingress NetworkPolicy', 'deny'],
      ['AuthorizationPolicy', 'skip'],
    ]);
    expect(t.stages[3]?.reason).toMatch(/8080\/UDP/);
    expect(t.stages[4]?.reason).toMatch(/governs TCP/);
  });

  it('refuses UDP from outside the mesh in strict mode, and admits a mesh pod by its address', () => {
    const outsider = udp('intruder/evil', 'shop/frontend', 5000, true);
    expect(outsider.verdict).toBe('deny');
    expect(outsider.stages.find((s) => s.stage === 'mTLS identity')).toMatchObject({
      result: 'deny',
      object: 'shop',
      reason: expect.stringMatching(/UDP from outside the mesh is refused/),
    });
    const member = udp('shop/cart', 'shop/frontend', 5000, true);
    expect(member.verdict).toBe('allow');
    expect(member.stages.find((s) => s.stage === 'mTLS identity')?.reason).toMatch(
      /10\.244\.2\.2 is the address of shop\/cart, a mesh pod; no identity is verified/,
    );
  });

  it('looks a Service port up under UDP', () => {
    expect(udp('shop/frontend', 'shop/svc/cart', 80).stages[0]?.reason).toBe(
      'Service shop/cart has no UDP port 80',
    );
  });
});

describe('weft policy trace', () => {
  const bin = new URL('../../../bin/weft', import.meta.url).pathname;

  it('prints JSON with a top-level verdict and stages', () => {
    const r = spawnSync(
      bin,
      [
        'policy',
        'trace',
        '--from',
        'intruder/evil',
        '--to',
        'shop/cart',
        '--port',
        '8080',
        '-f',
        fixture,
        '-o',
        'json',
      ],
      {
        encoding: 'utf8',
      },
    );
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.verdict).toBe('deny');
    expect(Array.isArray(j.stages)).toBe(true);
  });

  it('traces UDP with --protocol udp and refuses protocols weft does not police', () => {
    const run = (protocol: string) =>
      spawnSync(
        bin,
        [
          'policy',
          'trace',
          '--from',
          'shop/frontend',
          '--to',
          'shop/cart',
          '--port',
          '8080',
          '--protocol',
          protocol,
          '-f',
          fixture,
        ],
        { encoding: 'utf8' },
      );
    const r = run('udp');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^shop\/frontend → shop\/cart port 8080\/UDP/);
    expect(r.stdout).toMatch(/verdict: DENY/);
    const s = run('sctp');
    expect(s.status).not.toBe(0);
    expect(s.stderr).toMatch(/--protocol takes tcp or udp, found 'sctp'/);
  }, 30_000);

  it('refuses manifests with a rejected object, naming file, object and field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-trace-'));
    try {
      writeFileSync(
        join(dir, 'bad.yaml'),
        'apiVersion: v1\nkind: Pod\nmetadata: {name: bad, namespace: shop}\nspec:\n  nodeName: node-1\n  containers: [{name: c, ports: [{containerPort: 70000}]}]\n',
      );
      const r = spawnSync(
        bin,
        ['policy', 'trace', '--from', 'a/b', '--to', 'c/d', '--port', '1', '-f', dir],
        { encoding: 'utf8' },
      );
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(
        /bad\.yaml: Pod shop\/bad: spec\.containers\[0\]\.ports\[0\]\.containerPort: /,
      );
      expect(r.stderr).toMatch(/refuses to explain a set of manifests with rejected objects/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('explains manifests whose rejected NetworkPolicy fails closed, naming it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-trace-'));
    try {
      writeFileSync(
        join(dir, 'bad.yaml'),
        'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: bad, namespace: shop}\nspec:\n  podSelector: {}\n  ingress:\n  - ports: [{port: 70000}]\n',
      );
      const r = spawnSync(
        bin,
        ['policy', 'trace', '--from', 'a/b', '--to', 'c/d', '--port', '1', '-f', dir],
        { encoding: 'utf8' },
      );
      expect(r.stderr).toMatch(
        /bad\.yaml: NetworkPolicy shop\/bad: spec\.ingress\[0\]\.ports\[0\]\.port: .*\(the policy fails closed: the pods it selects are isolated with nothing it would allow\)/,
      );
      expect(r.stderr).not.toMatch(/refuses to explain/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('policy trace of HTTP request targets', () => {
  const paths = loadManifests([
    new URL('../../fixtures/policy/paths.yaml', import.meta.url).pathname,
  ]);
  const l7 = (path: string) => {
    const t = tracePolicy({
      cluster: paths.cluster,
      trustDomain: 'cluster.local',
      rootNamespace: 'weft-system',
      from: 'shop/frontend',
      to: 'shop/cart',
      port: 8080,
      http: { method: 'GET', path, host: 'cart', headers: {} },
    });
    return { verdict: t.verdict, l7: t.stages.at(-1)! };
  };

  it('judges the path the proxy judges: normalized', () => {
    expect(paths.errors).toEqual([]);
    expect(l7('/items/1').verdict).toBe('allow');
    expect(l7('/%69tems//1').verdict).toBe('allow');
    const dotted = l7('/items/../admin');
    expect(dotted.verdict).toBe('deny');
    expect(dotted.l7.reason).toMatch(/GET \/admin \(as \/items\/\.\.\/admin normalizes\)/);
  });

  it('says a target the proxy refuses with 400 is denied', () => {
    expect(l7('items')).toMatchObject({ verdict: 'deny', l7: { stage: 'L7', result: 'deny' } });
  });
});
