import { describe, expect, it } from 'vitest';
import { parseManifestFile } from '../../../../agent/src/sources/manifests/parse.ts';
import type { ObjectError } from '../../../../agent/src/state/types.ts';

const F = 'cluster/shop.yaml';

const pod = (extra = '') => `
apiVersion: v1
kind: Pod
metadata:
  name: web-1
  namespace: shop
  labels: {app: web}
spec:
  nodeName: node-a
  containers:
  - name: app
    ports:
    - containerPort: 8080
      name: http
${extra}`;

/** The one error a file yields. */
function onlyError(text: string): ObjectError {
  const r = parseManifestFile(F, text);
  expect(r.errors).toHaveLength(1);
  return r.errors[0]!;
}

describe('parseManifestFile: valid objects and defaults', () => {
  it('reads a Namespace', () => {
    const r = parseManifestFile(
      F,
      'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels: {weft.dev/mesh: enabled}\n',
    );
    expect(r.errors).toEqual([]);
    expect(r.objects).toEqual([
      { kind: 'Namespace', value: { name: 'shop', labels: { 'weft.dev/mesh': 'enabled' } } },
    ]);
  });

  it('fills a Pod with the defaults Kubernetes applies', () => {
    const r = parseManifestFile(
      F,
      `apiVersion: v1
kind: Pod
metadata: {name: web-1}
spec:
  nodeName: node-a
  containers: [{name: app, ports: [{containerPort: 80}]}]
`,
    );
    expect(r.errors).toEqual([]);
    expect(r.objects).toEqual([
      {
        kind: 'Pod',
        value: {
          namespace: 'default',
          name: 'web-1',
          labels: {},
          annotations: {},
          serviceAccountName: 'default',
          nodeName: 'node-a',
          ports: [{ containerPort: 80, protocol: 'TCP' }],
        },
      },
    ]);
  });

  it('reads every Pod field, IPs from status, and the deprecated serviceAccount', () => {
    const r = parseManifestFile(
      F,
      `apiVersion: v1
kind: Pod
metadata:
  name: web-1.a
  namespace: shop
  labels: {app: web, example.com/tier: ""}
  annotations: {note: "anything: goes here"}
spec:
  serviceAccount: web
  nodeName: node-a
  containers:
  - name: app
    ports: [{containerPort: 8080, name: http}, {containerPort: 53, protocol: UDP}]
  - name: metrics
    ports: [{containerPort: 9090, name: metrics}]
status: {podIP: 10.1.0.5, hostIP: "fd00::1"}
`,
    );
    expect(r.errors).toEqual([]);
    expect(r.objects[0]).toEqual({
      kind: 'Pod',
      value: {
        namespace: 'shop',
        name: 'web-1.a',
        labels: { app: 'web', 'example.com/tier': '' },
        annotations: { note: 'anything: goes here' },
        serviceAccountName: 'web',
        nodeName: 'node-a',
        ports: [
          { name: 'http', containerPort: 8080, protocol: 'TCP' },
          { containerPort: 53, protocol: 'UDP' },
          { name: 'metrics', containerPort: 9090, protocol: 'TCP' },
        ],
        podIP: '10.1.0.5',
        hostIP: 'fd00::1',
      },
    });
  });

  it('prefers serviceAccountName over serviceAccount', () => {
    const r = parseManifestFile(
      F,
      pod().replace('nodeName', 'serviceAccountName: new\n  serviceAccount: old\n  nodeName'),
    );
    expect(r.objects[0]?.value).toMatchObject({ serviceAccountName: 'new' });
  });

  it('reads a Service, defaulting targetPort to port and protocol to TCP', () => {
    const r = parseManifestFile(
      F,
      `apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  clusterIP: 10.96.0.10
  ports:
  - {name: http, port: 80, targetPort: http}
  - {name: dns, port: 53, protocol: UDP}
  - {name: alt, port: 8443, targetPort: 8443}
`,
    );
    expect(r.errors).toEqual([]);
    expect(r.objects).toEqual([
      {
        kind: 'Service',
        value: {
          namespace: 'shop',
          name: 'web',
          selector: { app: 'web' },
          ports: [
            { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' },
            { name: 'dns', port: 53, targetPort: 53, protocol: 'UDP' },
            { name: 'alt', port: 8443, targetPort: 8443, protocol: 'TCP' },
          ],
          clusterIP: '10.96.0.10',
        },
      },
    ]);
  });

  it("treats clusterIP 'None' as absent and lets a headless Service go without ports", () => {
    const r = parseManifestFile(
      F,
      'apiVersion: v1\nkind: Service\nmetadata: {name: db}\nspec: {clusterIP: None, selector: {app: db}}\n',
    );
    expect(r.errors).toEqual([]);
    expect(r.objects).toEqual([
      {
        kind: 'Service',
        value: { namespace: 'default', name: 'db', selector: { app: 'db' }, ports: [] },
      },
    ]);
  });
});

describe('parseManifestFile: documents, Lists and other kinds', () => {
  it('reads every document of a multi-document file, skipping empty ones', () => {
    const r = parseManifestFile(
      F,
      `---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n# nothing\n---\n${pod()}---\n`,
    );
    expect(r.errors).toEqual([]);
    expect(r.objects.map((o) => [o.kind, o.value.name])).toEqual([
      ['Namespace', 'a'],
      ['Pod', 'web-1'],
    ]);
  });

  it('reads the items of a List', () => {
    const r = parseManifestFile(
      F,
      `apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Namespace, metadata: {name: a}}
- {apiVersion: v1, kind: Namespace, metadata: {name: b}}
- {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}
`,
    );
    expect(r.errors).toEqual([]);
    expect(r.objects.map((o) => o.value.name)).toEqual(['a', 'b']);
    expect(r.ignored.map((o) => o.kind)).toEqual(['ConfigMap']);
  });

  it('reads JSON', () => {
    const r = parseManifestFile(
      'ns.json',
      '{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "j"}}',
    );
    expect(r.objects).toEqual([{ kind: 'Namespace', value: { name: 'j', labels: {} } }]);
  });

  it('reads policies with their own parsers and leaves other kinds to other components', () => {
    const r = parseManifestFile(
      F,
      `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny}
spec: {podSelector: {}}
---
apiVersion: security.weft.dev/v1alpha1
kind: AuthorizationPolicy
metadata: {name: allow}
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: knative}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
`,
    );
    expect(r.errors).toEqual([]);
    expect(r.objects.map((o) => [o.kind, o.value.name])).toEqual([
      ['NetworkPolicy', 'deny'],
      ['AuthorizationPolicy', 'allow'],
    ]);
    expect(r.ignored.map((o) => o.kind)).toEqual(['Service', 'ConfigMap']);
  });

  it('rejects a malformed policy by identity, so its last good version stays', () => {
    const r = parseManifestFile(
      F,
      `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bad, namespace: shop}
spec:
  podSelector: {}
  ingress: [{ports: [{port: 0}]}]
`,
    );
    expect(r.rejected).toEqual(['NetworkPolicy shop/bad']);
    expect(r.errors[0]).toMatchObject({
      file: F,
      object: 'NetworkPolicy shop/bad',
      field: 'spec.ingress[0].ports[0].port',
    });
  });

  it('returns nothing for an empty file or one with only comments', () => {
    expect(parseManifestFile(F, '')).toEqual({
      objects: [],
      rejected: [],
      ignored: [],
      errors: [],
      fallbacks: [],
      broken: false,
    });
    expect(parseManifestFile(F, '# later\n').objects).toEqual([]);
  });
});

describe('parseManifestFile: YAML syntax', () => {
  it('gives one error for the file, with the line, and marks it broken', () => {
    const r = parseManifestFile(
      F,
      'apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\nkind: Pod\nmetadata: {name: [x\n',
    );
    expect(r.broken).toBe(true);
    expect(r.objects).toEqual([]);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({ file: F, object: 'document 2', field: '' });
    expect(r.errors[0]?.message).toMatch(/^YAML syntax error at line 7, column 1: /);
  });

  it('counts duplicate keys as a syntax error', () => {
    const r = parseManifestFile(F, 'kind: Pod\nkind: Service\n');
    expect(r.broken).toBe(true);
    expect(r.errors[0]?.message).toBe(
      'YAML syntax error at line 2, column 1: Map keys must be unique',
    );
  });
});

describe('parseManifestFile: errors', () => {
  it('names the object, the field, what was expected and what was found', () => {
    expect(onlyError(pod().replace('containerPort: 8080', 'containerPort: "8080"'))).toEqual({
      file: F,
      object: 'Pod shop/web-1',
      field: 'spec.containers[0].ports[0].containerPort',
      message: 'expected a port number from 1 to 65535, found the string "8080"',
    });
  });

  it('rejects a port out of range', () => {
    expect(onlyError(pod().replace('8080', '70000'))).toMatchObject({
      field: 'spec.containers[0].ports[0].containerPort',
      message: 'expected a port number from 1 to 65535, found the number 70000',
    });
  });

  it('indexes the second port', () => {
    const text = pod().replace('      name: http', '      name: http\n    - containerPort: 0');
    expect(onlyError(text)).toMatchObject({
      field: 'spec.containers[0].ports[1].containerPort',
      message: 'expected a port number from 1 to 65535, found the number 0',
    });
  });

  it('holds port names to IANA_SVC_NAME', () => {
    for (const bad of ['"8080"', 'http-metrics-long', 'HTTP', 'a--b', '-ab']) {
      const e = onlyError(pod().replace('name: http', `name: ${bad}`));
      expect(e.field).toBe('spec.containers[0].ports[0].name');
      expect(e.message).toMatch(/^expected a port name \(at most 15 lowercase letters/);
    }
  });

  it('rejects duplicate port names in one container', () => {
    const text = pod().replace(
      '      name: http',
      '      name: http\n    - containerPort: 8081\n      name: http',
    );
    expect(onlyError(text)).toEqual({
      file: F,
      object: 'Pod shop/web-1',
      field: 'spec.containers[0].ports[1].name',
      message: 'expected a name unique in the container, found "http" again',
    });
  });

  it('rejects an unknown protocol', () => {
    expect(onlyError(pod().replace('name: http', 'name: http\n      protocol: tcp'))).toMatchObject(
      {
        field: 'spec.containers[0].ports[0].protocol',
        message: 'expected TCP, UDP or SCTP, found the string "tcp"',
      },
    );
  });

  it('requires nodeName', () => {
    expect(onlyError(pod().replace('  nodeName: node-a\n', ''))).toEqual({
      file: F,
      object: 'Pod shop/web-1',
      field: 'spec.nodeName',
      message:
        "expected a DNS-1123 subdomain (dot-separated lowercase labels of letters, digits and '-', at most 253 characters), found nothing",
    });
  });

  it('rejects an invalid pod IP', () => {
    expect(onlyError(pod('status: {podIP: 10.0.0.300}'))).toEqual({
      file: F,
      object: 'Pod shop/web-1',
      field: 'status.podIP',
      message: 'expected an IPv4 or IPv6 address, found the string "10.0.0.300"',
    });
  });

  it('treats an empty pod IP as not yet assigned', () => {
    const r = parseManifestFile(F, pod('status: {podIP: ""}'));
    expect(r.errors).toEqual([]);
    expect(r.objects[0]?.value).not.toHaveProperty('podIP');
  });

  it('requires apiVersion v1', () => {
    expect(onlyError(pod().replace('apiVersion: v1', 'apiVersion: v2'))).toEqual({
      file: F,
      object: 'Pod shop/web-1',
      field: 'apiVersion',
      message: 'expected v1 for a Pod, found the string "v2"',
    });
  });

  it('rejects labels that are not a map, without crashing', () => {
    expect(onlyError(pod().replace('labels: {app: web}', 'labels: [app]'))).toEqual({
      file: F,
      object: 'Pod shop/web-1',
      field: 'metadata.labels',
      message: 'expected a map, found a list',
    });
  });

  it('rejects label values that are not strings, and says to quote them', () => {
    expect(onlyError(pod().replace('app: web', 'enabled: true'))).toEqual({
      file: F,
      object: 'Pod shop/web-1',
      field: 'metadata.labels.enabled',
      message: 'expected a string (quote it), found true',
    });
  });

  it('holds label keys and values to Kubernetes syntax', () => {
    const key = onlyError(pod().replace('app: web', '"Weft.Dev/mesh": on'));
    expect(key.field).toBe('metadata.labels["Weft.Dev/mesh"]');
    expect(key.message).toMatch(/^expected a label key .*, found the string "Weft.Dev\/mesh"$/);
    const value = onlyError(pod().replace('app: web', 'app: -web'));
    expect(value.field).toBe('metadata.labels.app');
    expect(value.message).toMatch(/^expected a label value .*, found the string "-web"$/);
    const long = onlyError(pod().replace('app: web', `app: ${'a'.repeat(64)}`));
    expect(long.message).toMatch(/^expected a label value/);
    expect(
      parseManifestFile(F, pod().replace('app: web', `a.b/c_d.e: ${'x'.repeat(63)}`)).errors,
    ).toEqual([]);
  });

  it('holds names to DNS rules and still names the object', () => {
    expect(onlyError(pod().replace('name: web-1', 'name: Web_1'))).toEqual({
      file: F,
      object: 'Pod shop/Web_1',
      field: 'metadata.name',
      message:
        'expected a DNS-1123 subdomain (dot-separated lowercase labels of letters, digits and \'-\', at most 253 characters), found the string "Web_1"',
    });
    expect(onlyError(pod().replace('namespace: shop', 'namespace: shop.eu'))).toMatchObject({
      object: 'Pod shop.eu/web-1',
      field: 'metadata.namespace',
      message: expect.stringMatching(/^expected a DNS-1123 label/),
    });
    const long = onlyError(
      `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${'n'.repeat(64)}}\n`,
    );
    expect(long.message).toMatch(/found the string "n{64}" \(64 characters\)$/);
  });

  it('falls back to `document N` and a path inside it when the object has no name', () => {
    const text = `apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n${pod().replace('  name: web-1\n', '')}`;
    expect(onlyError(text)).toMatchObject({
      object: 'document 2',
      field: 'metadata.name',
      message: expect.stringMatching(/found nothing$/),
    });
    const list = parseManifestFile(
      F,
      'apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Namespace, metadata: {name: ok}}\n- {apiVersion: v1, kind: Namespace, metadata: {}}\n- 7\n',
    );
    expect(list.objects).toHaveLength(1);
    expect(list.errors).toEqual([
      {
        file: F,
        object: 'document 1',
        field: 'items[1].metadata.name',
        message:
          "expected a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters), found nothing",
      },
      {
        file: F,
        object: 'document 1',
        field: 'items[2]',
        message: 'expected a Kubernetes object (a map with kind and metadata), found the number 7',
      },
    ]);
  });

  it('rejects a document that is not an object or has no kind', () => {
    expect(onlyError('- a\n- b\n')).toEqual({
      file: F,
      object: 'document 1',
      field: '',
      message: 'expected a Kubernetes object (a map with kind and metadata), found a list',
    });
    expect(onlyError('apiVersion: v1\nmetadata: {name: x}\n')).toEqual({
      file: F,
      object: 'document 1',
      field: 'kind',
      message: "expected the object's kind, such as Pod, found nothing",
    });
    expect(onlyError('kind: List\nitems: {a: 1}\n')).toEqual({
      file: F,
      object: 'document 1',
      field: 'items',
      message: 'expected a list of objects, found a map',
    });
  });

  it('reports every mistake in an object, in document order', () => {
    const r = parseManifestFile(
      F,
      `apiVersion: v1
kind: Service
metadata: {name: 1web, namespace: shop}
spec:
  selector: {app: 1}
  clusterIP: nope
  ports:
  - {name: http, port: "80", targetPort: "8080"}
  - {port: 443, protocol: TLS}
`,
    );
    expect(r.objects).toEqual([]);
    expect(r.rejected).toEqual(['Service shop/1web']);
    expect(r.errors.map((e) => [e.object, e.field])).toEqual([
      ['Service shop/1web', 'metadata.name'],
      ['Service shop/1web', 'spec.selector.app'],
      ['Service shop/1web', 'spec.ports[0].port'],
      ['Service shop/1web', 'spec.ports[0].targetPort'],
      ['Service shop/1web', 'spec.ports[1].protocol'],
      ['Service shop/1web', 'spec.ports[1].name'],
      ['Service shop/1web', 'spec.clusterIP'],
    ]);
    expect(r.errors[0]?.message).toMatch(/^expected a DNS-1035 label .*starting with a letter/);
    expect(r.errors[3]?.message).toBe(
      "expected a port number from 1 to 65535 or a port name (at most 15 lowercase letters, digits and '-', with at least one letter, no '--', not starting or ending with '-'), found the string \"8080\"",
    );
    expect(r.errors[5]?.message).toBe(
      'expected a name: a Service with several ports must name each, found nothing',
    );
    expect(r.errors[6]?.message).toBe('expected an IPv4 or IPv6 address, found the string "nope"');
  });

  it('requires ports of a Service that is not headless', () => {
    expect(
      onlyError('apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {selector: {a: b}}\n'),
    ).toEqual({
      file: F,
      object: 'Service default/web',
      field: 'spec.ports',
      message: 'expected at least one port, found nothing',
    });
  });

  it('rejects the same port and protocol twice', () => {
    const e = onlyError(
      'apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports: [{name: a, port: 80}, {name: b, port: 80}]\n',
    );
    expect(e).toMatchObject({
      field: 'spec.ports[1].port',
      message: 'expected each port and protocol once, found 80/TCP again',
    });
  });

  it('lists a rejected object by identity and keeps the valid ones of the file', () => {
    const r = parseManifestFile(
      F,
      `apiVersion: v1\nkind: Namespace\nmetadata: {name: ok}\n---\n${pod().replace('8080', 'x')}`,
    );
    expect(r.broken).toBe(false);
    expect(r.objects.map((o) => o.value.name)).toEqual(['ok']);
    expect(r.rejected).toEqual(['Pod shop/web-1']);
  });
});
