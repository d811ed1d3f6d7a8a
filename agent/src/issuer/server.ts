// The issuer's API (HTTP/1.1 + JSON, on a unix socket or TCP):
//   POST /v1/svid    {csr, spiffeId} with "Authorization: Bearer <node token>"
//                    → {certPem, chainPem, serial, notAfter, roots}
//   GET  /v1/bundle  → {roots}
// A node may obtain SVIDs only for service accounts of its own pods.
// It listens on a unix socket (the sandbox, plain hosts) or on TCP with TLS
// (Kubernetes): plain TCP would carry node credentials in the clear.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { listenUnix } from '../admin/index.ts';
import type { ClusterObjects } from '../state/index.ts';
import type { IssuerMetrics } from '../telemetry/index.ts';
import { type NodeAuthenticator, staticTokens } from './authenticate.ts';
import { mayIssue } from './authorize.ts';
import type { CaStore } from './ca-store.ts';
import { DEFAULT_REVIEW_LIMIT, type RateLimit, SourceRateLimiter } from './rate-limit.ts';

export interface IssuerOptions {
  store: CaStore;
  trustDomain: string;
  /** token → node name (static tokens), unless an authenticator is given. */
  tokens?: ReadonlyMap<string, string>;
  /** Proves which node asks (TokenReview on Kubernetes). */
  authenticator?: NodeAuthenticator;
  lifetimeMs?: number;
  cluster: () => ClusterObjects;
  /** Called for every decision, for the issuer's log. */
  audit?: (line: string) => void;
  /** How often a source may cause a TokenReview (default DEFAULT_REVIEW_LIMIT). */
  reviewLimit?: RateLimit;
  /** Counts signings and refusals (telemetry/issuer-metrics/). */
  metrics?: IssuerMetrics;
}

const MAX_BODY = 64 * 1024;

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new Error('request body too large');
    chunks.push(c as Buffer);
  }
  const v = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  if (typeof v !== 'object' || v === null) throw new Error('body must be a JSON object');
  return v as Record<string, unknown>;
}

export interface ServingTls {
  certPem: string;
  keyPem: string;
  chainPem: string[];
}

export class IssuerServer {
  private server: Server | undefined;
  private removeSocket: () => void = () => {};
  private readonly opts: IssuerOptions;
  private readonly auth: NodeAuthenticator;
  private readonly reviews: SourceRateLimiter;

  constructor(opts: IssuerOptions) {
    this.opts = opts;
    if (!opts.authenticator && !opts.tokens)
      throw new Error('issuer: give node tokens or an authenticator');
    this.auth = opts.authenticator ?? staticTokens(opts.tokens!);
    this.reviews = new SourceRateLimiter(opts.reviewLimit ?? DEFAULT_REVIEW_LIMIT);
  }

  private readonly onRequest = (req: IncomingMessage, res: ServerResponse) => {
    this.handle(req, res).catch((e: Error) => send(res, 500, { error: e.message }));
  };

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const audit = this.opts.audit ?? (() => {});
    if (req.method === 'GET' && req.url === '/v1/bundle') {
      send(res, 200, { roots: this.opts.store.roots() });
      return;
    }
    if (req.method !== 'POST' || req.url !== '/v1/svid') {
      send(res, 404, { error: 'not found: POST /v1/svid or GET /v1/bundle' });
      return;
    }
    const header = req.headers.authorization ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    if (token !== undefined && this.auth.asksOut?.(token)) {
      // Every unix-socket client is one source: only the node's own processes reach it.
      const source = req.socket.remoteAddress ?? 'unix socket';
      const waitMs = this.reviews.take(source);
      if (waitMs > 0) {
        audit(`refused: too many token reviews from ${source}`);
        this.opts.metrics?.refused('rate_limited');
        res.setHeader('retry-after', String(Math.ceil(waitMs / 1000)));
        send(res, 429, { error: `too many token reviews from ${source}; retry later` });
        return;
      }
    }
    const who =
      token !== undefined ? await this.auth.authenticate(token) : { error: 'no bearer credential' };
    if ('error' in who) {
      audit(`refused: ${who.error}`);
      this.opts.metrics?.refused('unauthenticated');
      send(res, 401, { error: who.error });
      return;
    }
    const node = who.node;
    let body: Record<string, unknown>;
    try {
      body = await readJson(req);
    } catch (e) {
      this.opts.metrics?.refused('bad_request');
      send(res, 400, { error: (e as Error).message });
      return;
    }
    const { csr, spiffeId } = body;
    if (typeof csr !== 'string' || typeof spiffeId !== 'string') {
      this.opts.metrics?.refused('bad_request');
      send(res, 400, { error: 'body needs csr (PEM) and spiffeId (strings)' });
      return;
    }
    const d = mayIssue(this.opts.cluster(), this.opts.trustDomain, node, spiffeId);
    if (!d.ok) {
      audit(`refused ${spiffeId} to ${node}: ${d.reason}`);
      this.opts.metrics?.refused('not_authorized');
      send(res, 403, { error: d.reason });
      return;
    }
    let svid: Awaited<ReturnType<CaStore['ca']['signSvid']>>;
    try {
      svid = await this.opts.store.ca.signSvid(csr, spiffeId, { lifetimeMs: this.opts.lifetimeMs });
    } catch (e) {
      this.opts.metrics?.refused('bad_csr');
      send(res, 400, { error: `bad CSR: ${(e as Error).message}` });
      return;
    }
    this.opts.metrics?.signed();
    audit(
      `issued ${spiffeId} to ${node}, serial ${svid.serial}, until ${svid.notAfter.toISOString()}`,
    );
    send(res, 200, {
      certPem: svid.certPem,
      chainPem: svid.chainPem,
      serial: svid.serial,
      notAfter: svid.notAfter.toISOString(),
      roots: this.opts.store.roots(),
    });
  }

  /** A unix socket path, or host:port with TLS. Resolves with the bound port for TCP. */
  listen(target: string, tls?: ServingTls): Promise<number | undefined> {
    if (!target.includes('/')) return this.listenTcp(target, tls);
    const server = createServer(this.onRequest);
    this.server = server;
    // Mode 0600 before the socket is reachable at target (unix-socket.ts says how).
    return listenUnix(server, target, 0o600).then((remove) => {
      this.removeSocket = remove;
      return undefined;
    });
  }

  private listenTcp(target: string, tls?: ServingTls): Promise<number> {
    const m = /^(.*):(\d+)$/.exec(target);
    if (!m)
      return Promise.reject(new Error(`--listen ${target}: expected a socket path or host:port`));
    if (!tls) {
      return Promise.reject(
        new Error(
          `--listen ${target}: TCP needs TLS (node credentials must not cross in the clear)`,
        ),
      );
    }
    const server = createTlsServer(
      { cert: [tls.certPem, ...tls.chainPem].join(''), key: tls.keyPem, minVersion: 'TLSv1.3' },
      this.onRequest,
    );
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(Number(m[2]), m[1]!.replace(/^\[|\]$/g, ''), () => {
        const a = server.address();
        resolve(typeof a === 'object' && a ? a.port : Number(m[2]));
      });
    });
  }

  /** Serves a new certificate to new connections (the serving certificate renews). */
  setServingTls(tls: ServingTls): void {
    const s = this.server as unknown as { setSecureContext?: (o: object) => void } | undefined;
    s?.setSecureContext?.({
      cert: [tls.certPem, ...tls.chainPem].join(''),
      key: tls.keyPem,
      minVersion: 'TLSv1.3',
    });
  }

  close(): void {
    this.server?.close();
    this.removeSocket();
  }
}
