// A local HTTP server that speaks the Kubernetes API's list/watch wire protocol
// over an in-memory store: list with resourceVersion, watch streams of
// ADDED/MODIFIED/DELETED events, BOOKMARKs when asked for, 410 Gone for a
// compacted resourceVersion, field selectors on spec.nodeName, TokenReview,
// and get/create/update/merge-patch of single objects (incl. /status).
// It is NOT a real API server: no admission, no validation, no RBAC, no
// defaulting. Tests drive it (apply, remove, compact, outage) and point the
// real @kubernetes/client-node at it.
import { writeFileSync } from 'node:fs';
import {
  createServer,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

// biome-ignore lint/suspicious/noExplicitAny: stores API JSON of every kind as it comes
type Obj = Record<string, any>;

interface Resource {
  readonly group: string; // '' for the core group
  readonly version: string;
  readonly plural: string;
  readonly kind: string;
  readonly namespaced: boolean;
}

export const RESOURCES: readonly Resource[] = [
  { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false },
  { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true },
  { group: '', version: 'v1', plural: 'services', kind: 'Service', namespaced: true },
  { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true },
  { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true },
  {
    group: 'discovery.k8s.io',
    version: 'v1',
    plural: 'endpointslices',
    kind: 'EndpointSlice',
    namespaced: true,
  },
  {
    group: 'networking.k8s.io',
    version: 'v1',
    plural: 'networkpolicies',
    kind: 'NetworkPolicy',
    namespaced: true,
  },
  {
    group: 'security.weft.dev',
    version: 'v1alpha1',
    plural: 'authorizationpolicies',
    kind: 'AuthorizationPolicy',
    namespaced: true,
  },
  {
    group: 'security.istio.io',
    version: 'v1',
    plural: 'authorizationpolicies',
    kind: 'AuthorizationPolicy',
    namespaced: true,
  },
  {
    group: 'gateway.networking.k8s.io',
    version: 'v1',
    plural: 'httproutes',
    kind: 'HTTPRoute',
    namespaced: true,
  },
  {
    group: 'gateway.networking.k8s.io',
    version: 'v1',
    plural: 'grpcroutes',
    kind: 'GRPCRoute',
    namespaced: true,
  },
  {
    group: 'gateway.networking.k8s.io',
    version: 'v1beta1',
    plural: 'referencegrants',
    kind: 'ReferenceGrant',
    namespaced: true,
  },
  {
    group: 'weft.dev',
    version: 'v1alpha1',
    plural: 'httpfaults',
    kind: 'HTTPFault',
    namespaced: true,
  },
  {
    group: 'weft.dev',
    version: 'v1alpha1',
    plural: 'httplocalratelimitpolicies',
    kind: 'HTTPLocalRateLimitPolicy',
    namespaced: true,
  },
  {
    group: 'networking.istio.io',
    version: 'v1',
    plural: 'destinationrules',
    kind: 'DestinationRule',
    namespaced: true,
  },
];

interface Event {
  readonly rv: number;
  readonly res: Resource;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: Obj;
}

interface Watcher {
  readonly res: Resource;
  readonly namespace?: string;
  readonly nodeName?: string;
  readonly bookmarks: boolean;
  readonly res_: ServerResponse;
}

export interface TokenIdentity {
  /** e.g. system:serviceaccount:weft-system:weft-agent */
  readonly username: string;
  readonly audiences: readonly string[];
  readonly extra?: Record<string, string[]>;
}

function apiVersionOf(r: Resource): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

function keyOf(r: Resource): string {
  return `${r.group}/${r.version}/${r.plural}`;
}

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

interface Route {
  readonly res: Resource;
  readonly namespace?: string;
  readonly name?: string;
  readonly sub?: string;
}

export class FakeApiServer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly store = new Map<string, Map<string, Obj>>();
  private readonly log: Event[] = [];
  private readonly watchers = new Set<Watcher>();
  private rv = 100;
  /** Watches from a resourceVersion below this get 410 Gone. */
  private compactedTo = 0;
  private down = false;
  private readonly unserved = new Set<string>();
  readonly tokens = new Map<string, TokenIdentity>();
  /** Every request's method and path+query, for assertions. */
  readonly requests: string[] = [];
  port = 0;

  constructor() {
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  async start(port = 0): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    for (const w of this.watchers) w.res_.destroy();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // --- test controls ----------------------------------------------------------

  /** Creates or replaces an object (kind/apiVersion pick the resource); returns the stored copy. */
  apply(obj: Obj): Obj {
    const res = this.resourceFor(obj);
    const ns = res.namespaced ? (obj.metadata?.namespace ?? 'default') : undefined;
    return this.put(res, ns, obj.metadata.name, obj).stored;
  }

  remove(kind: string, apiVersion: string, namespace: string | undefined, name: string): void {
    const res = this.resourceFor({ kind, apiVersion });
    const m = this.objects(res);
    const k = namespace ? `${namespace}/${name}` : name;
    const old = m.get(k);
    if (!old) throw new Error(`no ${kind} ${k}`);
    m.delete(k);
    const gone = clone(old);
    gone.metadata.resourceVersion = String(++this.rv);
    this.publish({ rv: this.rv, res, type: 'DELETED', object: gone });
  }

  get(kind: string, apiVersion: string, namespace: string | undefined, name: string) {
    const res = this.resourceFor({ kind, apiVersion });
    return this.objects(res).get(namespace ? `${namespace}/${name}` : name);
  }

  /** Forgets history: every watch from an older resourceVersion gets 410 Gone; open watches end. */
  compact(): void {
    this.compactedTo = this.rv + 1;
    this.log.length = 0;
    for (const w of this.watchers) {
      this.send(w, {
        type: 'ERROR',
        object: {
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          reason: 'Expired',
          code: 410,
          message: 'too old resource version',
        },
      });
      w.res_.end();
      this.watchers.delete(w);
    }
  }

  /** Sends a BOOKMARK with the current resourceVersion to watches that asked for them. */
  bookmark(): void {
    for (const w of this.watchers) {
      if (!w.bookmarks) continue;
      this.send(w, {
        type: 'BOOKMARK',
        object: {
          kind: w.res.kind,
          apiVersion: apiVersionOf(w.res),
          metadata: { resourceVersion: String(this.rv) },
        },
      });
    }
  }

  /** Simulates an API server outage: connections drop and requests get 503 until up(). */
  outage(): void {
    this.down = true;
    for (const w of this.watchers) w.res_.destroy();
    for (const s of this.sockets) s.destroy();
  }

  up(): void {
    this.down = false;
  }

  /** Ends open watches the way a server-side watch timeout does (a clean end of stream). */
  endWatches(plural?: string): void {
    for (const w of this.watchers) {
      if (plural && w.res.plural !== plural) continue;
      w.res_.end();
      this.watchers.delete(w);
    }
  }

  /** Stops serving a group (as if its CRD were not installed): 404 for every path in it. */
  unserve(group: string): void {
    this.unserved.add(group);
  }

  serve(group: string): void {
    this.unserved.delete(group);
  }

  watchCount(plural?: string): number {
    return [...this.watchers].filter((w) => !plural || w.res.plural === plural).length;
  }

  // --- the API ----------------------------------------------------------------

  private resourceFor(obj: Obj): Resource {
    const r = RESOURCES.find((x) => x.kind === obj.kind && apiVersionOf(x) === obj.apiVersion);
    if (!r) throw new Error(`fake API server has no resource for ${obj.apiVersion} ${obj.kind}`);
    return r;
  }

  private objects(res: Resource): Map<string, Obj> {
    let m = this.store.get(keyOf(res));
    if (!m) {
      m = new Map();
      this.store.set(keyOf(res), m);
    }
    return m;
  }

  private put(res: Resource, ns: string | undefined, name: string, obj: Obj) {
    const m = this.objects(res);
    const k = ns ? `${ns}/${name}` : name;
    const old = m.get(k);
    const stored = clone(obj);
    stored.kind = res.kind;
    stored.apiVersion = apiVersionOf(res);
    stored.metadata = { ...stored.metadata, name, ...(ns ? { namespace: ns } : {}) };
    stored.metadata.uid ??= old?.metadata.uid ?? `uid-${res.plural}-${k.replace('/', '-')}`;
    stored.metadata.generation =
      old && JSON.stringify(old.spec) === JSON.stringify(stored.spec)
        ? old.metadata.generation
        : (old?.metadata.generation ?? 0) + 1;
    stored.metadata.resourceVersion = String(++this.rv);
    m.set(k, stored);
    this.publish({ rv: this.rv, res, type: old ? 'MODIFIED' : 'ADDED', object: stored });
    return { stored, created: !old };
  }

  private publish(e: Event): void {
    this.log.push(e);
    for (const w of this.watchers) {
      if (w.res === e.res && this.matches(w, e.object)) {
        this.send(w, { type: e.type, object: e.object });
      }
    }
  }

  private matches(w: { namespace?: string; nodeName?: string }, o: Obj): boolean {
    if (w.namespace && o.metadata.namespace !== w.namespace) return false;
    if (w.nodeName !== undefined && o.spec?.nodeName !== w.nodeName) return false;
    return true;
  }

  private send(w: Watcher, ev: unknown): void {
    if (w.res_.writableEnded || w.res_.destroyed) return;
    w.res_.write(`${JSON.stringify(ev)}\n`);
  }

  private route(path: string): Route | undefined {
    const parts = path.split('/').filter(Boolean);
    let group: string;
    let version: string;
    let rest: string[];
    if (parts[0] === 'api') [group, version, rest] = ['', parts[1]!, parts.slice(2)];
    else if (parts[0] === 'apis') [group, version, rest] = [parts[1]!, parts[2]!, parts.slice(3)];
    else return undefined;
    const find = (plural: string | undefined) =>
      RESOURCES.find((r) => r.group === group && r.version === version && r.plural === plural);
    // namespaces/<ns>/<plural>[/<name>[/<sub>]] unless it is the Namespace object itself.
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      const res = find(rest[2]);
      return res && { res, namespace: rest[1], name: rest[3], sub: rest[4] };
    }
    const res = find(rest[0]);
    return res && { res, name: rest[1], sub: rest[2] };
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.requests.push(`${req.method} ${req.url}`);
    if (this.down) {
      res.writeHead(503).end();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://x');
    const proxy = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/:]+):(\d+)\/proxy(\/.*)?$/.exec(
      url.pathname,
    );
    if (req.method === 'GET' && proxy) return this.podProxy(proxy, url.search, res);
    if (req.method === 'POST' && url.pathname === '/apis/authentication.k8s.io/v1/tokenreviews') {
      void this.body(req).then((b) => this.tokenReview(b, res));
      return;
    }
    const r = this.route(url.pathname);
    if (!r || this.unserved.has(r.res.group))
      return this.status(res, 404, 'NotFound', `no route for ${url.pathname}`);
    if (req.method === 'GET' && !r.name) {
      if (url.searchParams.get('watch') === 'true') return this.watch(r, url, res);
      return this.list(r, url, res);
    }
    if (req.method === 'GET') return this.getOne(r, res);
    if (req.method === 'POST' && !r.name) {
      void this.body(req).then((b) => this.create(r, b, res));
      return;
    }
    if ((req.method === 'PUT' || req.method === 'PATCH') && r.name) {
      void this.body(req).then((b) => this.update(r, req.method!, b, res));
      return;
    }
    this.status(res, 405, 'MethodNotAllowed', `${req.method} ${url.pathname}`);
  }

  private nodeSelector(url: URL): string | undefined {
    const fs = url.searchParams.get('fieldSelector');
    if (!fs) return undefined;
    const m = /^spec\.nodeName=(.*)$/.exec(fs);
    if (!m) throw new Error(`fake API server: unsupported field selector ${fs}`);
    return m[1];
  }

  /**
   * The pod proxy subresource (`pods/NAME:PORT/proxy/PATH`), GET only: forwards to
   * the pod's status.podIP and the port over plain HTTP and relays the answer, as the
   * API server does; 503 when the pod has no IP or does not answer.
   */
  private podProxy(m: RegExpExecArray, search: string, res: ServerResponse): void {
    const pod = this.objects(RESOURCES.find((r) => r.plural === 'pods')!).get(`${m[1]}/${m[2]}`);
    if (!pod) return this.status(res, 404, 'NotFound', `pods "${m[2]}" not found`);
    const ip = pod.status?.podIP;
    if (!ip) return this.status(res, 503, 'ServiceUnavailable', `pod ${m[2]} has no IP`);
    const up = request(
      { host: ip, port: Number(m[3]), path: `${m[4] ?? '/'}${search}`, timeout: 5000 },
      (a) => {
        res.writeHead(a.statusCode ?? 502, { 'content-type': a.headers['content-type'] ?? '' });
        a.pipe(res);
      },
    );
    up.on('timeout', () => up.destroy(new Error('timed out')));
    up.on('error', (e) =>
      this.status(res, 503, 'ServiceUnavailable', `error trying to reach ${m[2]}: ${e.message}`),
    );
    up.end();
  }

  private list(r: Route, url: URL, res: ServerResponse): void {
    const nodeName = this.nodeSelector(url);
    // labelSelector: equality terms only (a=b,c=d).
    const labels = (url.searchParams.get('labelSelector') ?? '')
      .split(',')
      .filter(Boolean)
      .map((t) => t.split('='));
    const items = [...this.objects(r.res).values()]
      .filter((o) => this.matches({ namespace: r.namespace, nodeName }, o))
      .filter((o) => labels.every(([k, v]) => o.metadata.labels?.[k!] === v))
      .map((o) => {
        // Items of a list carry no kind/apiVersion on the wire, as with a real server.
        const { kind: _k, apiVersion: _a, ...rest } = o;
        return rest;
      });
    this.json(res, 200, {
      kind: `${r.res.kind}List`,
      apiVersion: apiVersionOf(r.res),
      metadata: { resourceVersion: String(this.rv) },
      items,
    });
  }

  private watch(r: Route, url: URL, res: ServerResponse): void {
    const from = Number(url.searchParams.get('resourceVersion') || this.rv);
    const w: Watcher = {
      res: r.res,
      namespace: r.namespace,
      nodeName: this.nodeSelector(url),
      bookmarks: url.searchParams.get('allowWatchBookmarks') === 'true',
      res_: res,
    };
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    if (from < this.compactedTo) {
      this.send(w, {
        type: 'ERROR',
        object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 410 },
      });
      res.end();
      return;
    }
    for (const e of this.log) {
      if (e.rv > from && e.res === r.res && this.matches(w, e.object))
        this.send(w, { type: e.type, object: e.object });
    }
    this.watchers.add(w);
    const timeout = Number(url.searchParams.get('timeoutSeconds') || 0);
    const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
    res.on('close', () => {
      clearTimeout(timer);
      this.watchers.delete(w);
    });
  }

  private getOne(r: Route, res: ServerResponse): void {
    const k = r.namespace ? `${r.namespace}/${r.name}` : r.name!;
    const o = this.objects(r.res).get(k);
    if (!o) return this.status(res, 404, 'NotFound', `${r.res.plural} "${r.name}" not found`);
    this.json(res, 200, o);
  }

  private create(r: Route, body: Obj, res: ServerResponse): void {
    const name = body.metadata?.name;
    const k = r.namespace ? `${r.namespace}/${name}` : name;
    if (this.objects(r.res).has(k))
      return this.status(res, 409, 'AlreadyExists', `${r.res.plural} "${name}" already exists`);
    this.json(res, 201, this.put(r.res, r.namespace, name, body).stored);
  }

  private update(r: Route, method: string, body: Obj, res: ServerResponse): void {
    const k = r.namespace ? `${r.namespace}/${r.name}` : r.name!;
    const old = this.objects(r.res).get(k);
    if (!old) return this.status(res, 404, 'NotFound', `${r.res.plural} "${r.name}" not found`);
    let next: Obj;
    if (method === 'PUT') {
      const rv = body.metadata?.resourceVersion;
      if (rv && rv !== old.metadata.resourceVersion)
        return this.status(res, 409, 'Conflict', 'the object has been modified');
      next = r.sub === 'status' ? { ...clone(old), status: body.status } : body;
    } else {
      // Merge patch (RFC 7386), enough for status and data updates.
      next = mergePatch(clone(old), r.sub === 'status' ? { status: body.status } : body);
    }
    if (r.sub !== 'status') next.status = old.status;
    this.json(res, 200, this.put(r.res, r.namespace, r.name!, next).stored);
  }

  private tokenReview(body: Obj, res: ServerResponse): void {
    const token = body.spec?.token as string | undefined;
    const wanted = (body.spec?.audiences as string[] | undefined) ?? [];
    const id = token ? this.tokens.get(token) : undefined;
    const ok = id !== undefined && wanted.every((a) => id.audiences.includes(a));
    this.json(res, 201, {
      kind: 'TokenReview',
      apiVersion: 'authentication.k8s.io/v1',
      spec: body.spec,
      status: ok
        ? {
            authenticated: true,
            audiences: wanted,
            user: { username: id.username, uid: `uid-${id.username}`, extra: id.extra ?? {} },
          }
        : { authenticated: false, error: 'invalid bearer token' },
    });
  }

  private async body(req: IncomingMessage): Promise<Obj> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    return text ? (JSON.parse(text) as Obj) : {};
  }

  private json(res: ServerResponse, code: number, body: unknown): void {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private status(res: ServerResponse, code: number, reason: string, message: string): void {
    this.json(res, code, {
      kind: 'Status',
      apiVersion: 'v1',
      status: 'Failure',
      reason,
      message,
      code,
    });
  }
}

/** A client configuration for the fake server (plain HTTP, so TLS checks are off). */
export function kubeConfigFor(server: string, user = 'test'): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server, skipTLSVerify: true }],
    users: [{ name: user, token: `${user}-token` }],
    contexts: [{ name: 'fake', cluster: 'fake', user }],
    currentContext: 'fake',
  });
  return kc;
}

/** The same as a kubeconfig file in dir, for the weft CLI's --kubeconfig. */
export function writeKubeconfig(dir: string, server: string, user = 'test'): string {
  const file = join(dir, 'kubeconfig');
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters: [{name: fake, cluster: {server: "${server}", insecure-skip-tls-verify: true}}]
users: [{name: ${user}, user: {token: ${user}-token}}]
contexts: [{name: fake, context: {cluster: fake, user: ${user}}}]
current-context: fake
`,
  );
  return file;
}

function mergePatch(target: Obj, patch: Obj): Obj {
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete target[k];
    else if (typeof v === 'object' && !Array.isArray(v) && typeof target[k] === 'object')
      target[k] = mergePatch(target[k] ?? {}, v as Obj);
    else target[k] = v;
  }
  return target;
}
