// The agent's side of the issuer API: ask for an SVID with this node's
// credential, fetch the trust bundle.
import { request } from 'node:http';
import { request as tlsRequest } from 'node:https';
import { isIP } from 'node:net';

export interface IssuedSvid {
  certPem: string;
  chainPem: string[];
  serial: string;
  notAfter: string;
  roots: string[];
}

export interface CaClientOptions {
  /** The issuer's unix socket path, or https://host:port. */
  address: string;
  /** The node's credential; a function is asked each call (projected tokens rotate on disk). */
  token: string | (() => string);
  /** Roots the issuer's serving certificate must chain to (https only); a function is asked each call (a rotated CA file). */
  caPem?: string | (() => string);
  /** The name its certificate must carry, when the address is not that name (an IP, a tunnel). */
  serverName?: string;
  timeoutMs?: number;
}

export class IssuerError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export class CaClient {
  private readonly opts: CaClientOptions;

  private readonly url: URL | undefined;

  constructor(opts: CaClientOptions) {
    // Plain HTTP would carry the node's token and the trust bundle unprotected: TCP means TLS.
    if (opts.address.startsWith('https://')) {
      this.url = new URL(opts.address);
      if (!opts.caPem) throw new Error(`issuer ${opts.address}: give the roots to verify it by`);
    } else if (!opts.address.startsWith('/')) {
      throw new Error(
        `issuer address ${opts.address}: expected a unix socket path or https://host:port`,
      );
    }
    this.opts = opts;
  }

  private call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const a = this.opts.address;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const token = typeof this.opts.token === 'function' ? this.opts.token() : this.opts.token;
    const u = this.url;
    const send = u ? tlsRequest : request;
    return new Promise((resolve, reject) => {
      const req = send(
        {
          ...(u
            ? {
                host: u.hostname,
                port: Number(u.port || 443),
                ca: typeof this.opts.caPem === 'function' ? this.opts.caPem() : this.opts.caPem,
                servername: this.opts.serverName ?? (isIP(u.hostname) ? undefined : u.hostname),
              }
            : { socketPath: a }),
          method,
          path,
          timeout: this.opts.timeoutMs ?? 10_000,
          headers: {
            authorization: `Bearer ${token}`,
            ...(payload
              ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
              : {}),
          },
        },
        (res) => {
          let text = '';
          res.on('data', (d) => {
            text += d;
          });
          res.on('aborted', () => reject(new IssuerError(0, 'issuer connection lost mid-answer')));
          res.on('error', (e) => reject(new IssuerError(0, `issuer answer failed: ${e.message}`)));
          res.on('end', () => {
            let v: unknown;
            try {
              v = JSON.parse(text);
            } catch {
              reject(
                new IssuerError(
                  res.statusCode ?? 0,
                  `issuer answered ${res.statusCode} with no JSON`,
                ),
              );
              return;
            }
            if (res.statusCode !== 200) {
              reject(
                new IssuerError(
                  res.statusCode ?? 0,
                  (v as { error?: string }).error ?? `status ${res.statusCode}`,
                ),
              );
              return;
            }
            resolve(v as T);
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('issuer did not answer in time')));
      // A whole-request deadline: a response cut off midway must not leave renewal waiting for ever.
      const deadline = setTimeout(
        () => req.destroy(new Error('issuer did not answer in time')),
        this.opts.timeoutMs ?? 10_000,
      );
      req.on('close', () => clearTimeout(deadline));
      req.on('error', (e) =>
        reject(new IssuerError(0, `issuer unreachable at ${a}: ${e.message}`)),
      );
      req.end(payload);
    });
  }

  sign(csrPem: string, spiffeId: string): Promise<IssuedSvid> {
    return this.call<IssuedSvid>('POST', '/v1/svid', { csr: csrPem, spiffeId });
  }

  bundle(): Promise<string[]> {
    return this.call<{ roots: string[] }>('GET', '/v1/bundle').then((b) => b.roots);
  }
}
