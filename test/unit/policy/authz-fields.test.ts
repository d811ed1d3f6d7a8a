// Each field of a rule, through one ALLOW rule: allowed means the field matched.
import { describe, expect, it } from 'vitest';
import { allows, get, plaintext, ui } from './authz-fixtures.ts';

const from = (source: Record<string, unknown>) => ({ from: [{ source }] });
const to = (operation: Record<string, unknown>) => ({ to: [{ operation }] });
const when = (key: string, c: { values?: string[]; notValues?: string[] }) => ({
  when: [{ key, ...c }],
});

describe('source principals', () => {
  it.each([
    ['cluster.local/ns/front/sa/ui', true],
    ['cluster.local/ns/front/sa/u', false],
    ['cluster.local/ns/front/*', true],
    ['cluster.local/ns/back/*', false],
    ['*/sa/ui', true],
    ['*/sa/api', false],
    ['*', true],
  ])('principals [%s] → %s', (p, ok) => {
    expect(allows(from({ principals: [p] }))).toBe(ok);
    expect(allows(from({ notPrincipals: [p] }))).toBe(!ok);
  });

  it('any value of the list may match', () => {
    expect(allows(from({ principals: ['x/ns/a/sa/b', '*/sa/ui'] }))).toBe(true);
  });

  it('a plaintext peer never matches principals, and always matches notPrincipals', () => {
    expect(allows(from({ principals: ['*'] }), { source: plaintext })).toBe(false);
    expect(allows(from({ notPrincipals: ['*'] }), { source: plaintext })).toBe(true);
  });

  it('needs both the positive and the negative list to hold', () => {
    const s = { principals: ['cluster.local/*'], notPrincipals: ['*/sa/ui'] };
    expect(allows(from(s))).toBe(false);
    expect(allows(from(s), { source: { ...ui, principal: 'cluster.local/ns/front/sa/api' } })).toBe(
      true,
    );
  });

  it('any from entry may match; fields inside one entry must all match', () => {
    const rule = {
      from: [
        { source: { namespaces: ['back'] } },
        { source: { namespaces: ['front'], ipBlocks: ['10.0.1.0/24'] } },
      ],
    };
    expect(allows(rule)).toBe(true);
    expect(allows(rule, { source: { ...ui, ip: '10.9.9.9' } })).toBe(false);
  });
});

describe('source namespaces', () => {
  it.each([
    ['front', true],
    ['fron', false],
    ['fr*', true],
    ['*nt', true],
    ['f*t', true],
    ['*', true],
    ['back*', false],
  ])('namespaces [%s] → %s', (ns, ok) => {
    expect(allows(from({ namespaces: [ns] }))).toBe(ok);
    expect(allows(from({ notNamespaces: [ns] }))).toBe(!ok);
  });

  it('a plaintext peer has no namespace: namespaces never match, notNamespaces do', () => {
    expect(allows(from({ namespaces: ['*'] }), { source: plaintext })).toBe(false);
    expect(allows(from({ notNamespaces: ['front'] }), { source: plaintext })).toBe(true);
  });
});

describe('source ipBlocks', () => {
  it.each([
    ['10.0.1.0/24', true],
    ['10.0.0.0/8', true],
    ['10.0.2.0/24', false],
    ['10.0.1.5', true],
    ['10.0.1.6', false],
    ['0.0.0.0/0', true],
    ['2001:db8::/32', false],
  ])('ipBlocks [%s] → %s', (block, ok) => {
    expect(allows(from({ ipBlocks: [block] }))).toBe(ok);
    expect(allows(from({ notIpBlocks: [block] }))).toBe(!ok);
  });

  it('matches IPv6 peers, and IPv4 peers reported as IPv4-mapped IPv6', () => {
    const v6 = { source: { ...plaintext, ip: '2001:db8::7' } };
    expect(allows(from({ ipBlocks: ['2001:db8::/32'] }), v6)).toBe(true);
    expect(allows(from({ ipBlocks: ['2001:db8::7'] }), v6)).toBe(true);
    expect(allows(from({ ipBlocks: ['10.0.0.0/8'] }), v6)).toBe(false);
    const mapped = { source: { ...plaintext, ip: '::ffff:10.0.1.5' } };
    expect(allows(from({ ipBlocks: ['10.0.1.0/24'] }), mapped)).toBe(true);
  });
});

describe('operation ports, methods, paths, hosts', () => {
  it('ports and notPorts against the destination port', () => {
    expect(allows(to({ ports: ['80', '8080'] }))).toBe(true);
    expect(allows(to({ ports: ['80'] }))).toBe(false);
    expect(allows(to({ notPorts: ['8080'] }))).toBe(false);
    expect(allows(to({ notPorts: ['80'] }))).toBe(true);
  });

  it('ports are TCP fields: they decide for TCP traffic too', () => {
    expect(allows(to({ ports: ['8080'] }), { http: undefined })).toBe(true);
    expect(allows(to({ ports: ['80'] }), { http: undefined })).toBe(false);
  });

  it('methods match exactly, case included', () => {
    expect(allows(to({ methods: ['GET', 'HEAD'] }))).toBe(true);
    expect(allows(to({ methods: ['get'] }))).toBe(false);
    expect(allows(to({ methods: ['POST'] }))).toBe(false);
    expect(allows(to({ notMethods: ['POST'] }))).toBe(true);
    expect(allows(to({ notMethods: ['GET'] }))).toBe(false);
  });

  it.each([
    ['/api/v1/items', true],
    ['/api/*', true],
    ['*/items', true],
    ['*', true],
    ['/api', false],
    ['/API/*', false],
  ])('paths [%s] → %s for /api/v1/items?limit=5', (p, ok) => {
    const http = get('/api/v1/items?limit=5');
    expect(allows(to({ paths: [p] }), { http })).toBe(ok);
    expect(allows(to({ notPaths: [p] }), { http })).toBe(!ok);
  });

  it('the query string and fragment are not part of the path', () => {
    expect(allows(to({ paths: ['*.json'] }), { http: get('/a.json?x=.html') })).toBe(true);
    expect(allows(to({ paths: ['/a'] }), { http: get('/a#frag') })).toBe(true);
  });

  it.each([
    ['web.shop', true],
    ['WEB.Shop', true],
    ['*.shop', true],
    ['web.*', true],
    ['*', true],
    ['api.shop', false],
  ])('hosts [%s] → %s, case-insensitively', (h, ok) => {
    const http = get('/', { host: 'Web.SHOP' });
    expect(allows(to({ hosts: [h] }), { http })).toBe(ok);
    expect(allows(to({ notHosts: [h] }), { http })).toBe(!ok);
  });

  it('the host is compared as sent, port included', () => {
    const http = get('/', { host: 'web.shop:8080' });
    expect(allows(to({ hosts: ['web.shop'] }), { http })).toBe(false);
    expect(allows(to({ hosts: ['web.shop:*'] }), { http })).toBe(true);
  });

  it('any to entry may match; fields inside one entry must all match', () => {
    const rule = {
      to: [
        { operation: { methods: ['POST'] } },
        { operation: { methods: ['GET'], paths: ['/public/*'] } },
      ],
    };
    expect(allows(rule, { http: get('/public/a') })).toBe(true);
    expect(allows(rule, { http: get('/private/a') })).toBe(false);
  });
});

describe('when conditions', () => {
  it('source.ip with values and notValues', () => {
    expect(allows(when('source.ip', { values: ['10.0.1.0/24'] }))).toBe(true);
    expect(allows(when('source.ip', { values: ['10.0.9.9'] }))).toBe(false);
    expect(allows(when('source.ip', { notValues: ['10.0.1.5'] }))).toBe(false);
  });

  it('source.namespace and source.principal, plaintext never matching values', () => {
    expect(allows(when('source.namespace', { values: ['front'] }))).toBe(true);
    expect(allows(when('source.namespace', { notValues: ['fr*'] }))).toBe(false);
    expect(allows(when('source.principal', { values: ['*/sa/ui'] }))).toBe(true);
    expect(allows(when('source.principal', { notValues: ['cluster.local/ns/front/sa/ui'] }))).toBe(
      false,
    );
    expect(allows(when('source.principal', { values: ['*'] }), { source: plaintext })).toBe(false);
    expect(allows(when('source.namespace', { notValues: ['*'] }), { source: plaintext })).toBe(
      true,
    );
  });

  it('destination.port', () => {
    expect(allows(when('destination.port', { values: ['8080'] }))).toBe(true);
    expect(allows(when('destination.port', { values: ['80'] }))).toBe(false);
    expect(allows(when('destination.port', { notValues: ['8080'] }))).toBe(false);
  });

  it('request.headers[name]: name in any case, values with Istio string matching', () => {
    const http = get('/', { headers: { 'X-User': 'alice@example.com' } });
    const h = (c: { values?: string[]; notValues?: string[] }) =>
      allows(when('request.headers[x-user]', c), { http });
    expect(h({ values: ['alice@example.com'] })).toBe(true);
    expect(h({ values: ['*@example.com'] })).toBe(true);
    expect(h({ values: ['bob*'] })).toBe(false);
    expect(h({ values: ['*'] })).toBe(true);
    expect(h({ notValues: ['alice*'] })).toBe(false);
    expect(h({ notValues: ['bob*'] })).toBe(true);
    expect(allows(when('request.headers[x-other]', { values: ['*'] }), { http })).toBe(false);
    expect(allows(when('request.headers[x-other]', { notValues: ['*'] }), { http })).toBe(true);
  });

  it('every condition must hold', () => {
    const rule = {
      when: [
        { key: 'source.namespace', values: ['front'] },
        { key: 'destination.port', values: ['9090'] },
      ],
    };
    expect(allows(rule)).toBe(false);
    expect(allows(rule, { destination: { ip: '10.0.2.7', port: 9090 } })).toBe(true);
  });
});
