// The issuer's API (HTTP/1.1 + JSON, on a unix socket or TCP):
//   POST /v1/svid    {csr, spiffeId} with "Authorization: Bearer <node token>"
//                    → {certPem, chainPem, serial, notAfter, roots}
//   GET  /v1/bundle  → {roots}
// A node may obtain SVIDs only for service accounts of its own pods.
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { ClusterObjects } from '../state/types.ts';
import { mayIssue } from './authorize.ts';
import type { CaStore } from './ca-store.ts';

export interface IssuerOptions {
  store: CaStore;
  trustDomain: string;
  /** token → node name */
  tokens: ReadonlyMap<string, string>;
  lifetimeMs?: number;
  cluster: () => ClusterObjects;
  /** Called for every decision, for the issuer's log. */
  audit?: (line: string) => void;
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

export class IssuerServer {
  private readonly server: Server;
  private readonly opts: IssuerOptions;

  constructor(opts: IssuerOptions) {
    this.opts = opts;
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e: Error) => send(res, 500, { error: e.message }));
    });
  }

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
    const auth = req.headers.authorization ?? '';
    const node = auth.startsWith('Bearer ')
      ? this.opts.tokens.get(auth.slice(7).trim())
      : undefined;
    if (!node) {
      audit('refused: unknown node credential');
      send(res, 401, { error: 'unknown node credential' });
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = await readJson(req);
    } catch (e) {
      send(res, 400, { error: (e as Error).message });
      return;
    }
    const { csr, spiffeId } = body;
    if (typeof csr !== 'string' || typeof spiffeId !== 'string') {
      send(res, 400, { error: 'body needs csr (PEM) and spiffeId (strings)' });
      return;
    }
    const d = mayIssue(this.opts.cluster(), this.opts.trustDomain, node, spiffeId);
    if (!d.ok) {
      audit(`refused ${spiffeId} to ${node}: ${d.reason}`);
      send(res, 403, { error: d.reason });
      return;
    }
    let svid: Awaited<ReturnType<CaStore['ca']['signSvid']>>;
    try {
      svid = await this.opts.store.ca.signSvid(csr, spiffeId, { lifetimeMs: this.opts.lifetimeMs });
    } catch (e) {
      send(res, 400, { error: `bad CSR: ${(e as Error).message}` });
      return;
    }
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

  /** target: a unix socket path. (TCP would expose node tokens and the bundle without TLS.) */
  listen(target: string): Promise<void> {
    if (!target.includes('/')) {
      return Promise.reject(
        new Error(
          `--listen ${target}: only a unix socket path is supported (TCP needs TLS, not built yet)`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      if (existsSync(target)) unlinkSync(target);
      this.server.listen(target, () => {
        chmodSync(target, 0o600);
        resolve();
      });
    });
  }

  close(): void {
    this.server.close();
  }
}
