// Keeps an SVID fresh for every identity this node's workloads need: keys are
// made here and never leave; certificates are renewed at half life (with
// jitter, so a node's identities do not renew in one burst); on failure the
// old certificate stays in use and the request is retried with back-off. The
// trust bundle is re-read with every renewal and polled in between, so a root
// rotation reaches every TLS context live.
import { EventEmitter } from 'node:events';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { CaClient } from './caclient.ts';
import { generateKeyAndCsr } from './keys.ts';

export interface Svid {
  spiffeId: string;
  keyPem: string;
  /** Leaf then intermediates, as TLS sends them. */
  certChainPem: string;
  serial: string;
  notAfter: Date;
  issuedAt: Date;
}

export interface ManagerOptions {
  client: CaClient;
  /** Poll of the trust bundle between renewals. */
  bundlePollMs?: number;
  log?: (line: string) => void;
  now?: () => number;
}

const MIN_BACKOFF = 500;
const MAX_BACKOFF = 60_000;

interface Entry {
  svid?: Svid;
  timer?: NodeJS.Timeout;
  backoff: number;
  error?: string;
}

export class IdentityManager extends EventEmitter<{ svid: [Svid]; bundle: [string[]] }> {
  private readonly opts: ManagerOptions;
  private readonly entries = new Map<string, Entry>();
  private roots: string[] = [];
  private bundleTimer?: NodeJS.Timeout;
  private closed = false;

  constructor(opts: ManagerOptions) {
    super();
    this.opts = opts;
    this.bundleTimer = setInterval(() => void this.refreshBundle(), opts.bundlePollMs ?? 5000);
    this.bundleTimer.unref();
  }

  /** The identities wanted now: new ones are fetched, gone ones dropped. */
  want(ids: Iterable<string>): void {
    const wanted = new Set(ids);
    for (const [id, e] of this.entries) {
      if (wanted.has(id)) continue;
      clearTimeout(e.timer);
      this.entries.delete(id);
    }
    for (const id of wanted) {
      if (this.entries.has(id)) continue;
      this.entries.set(id, { backoff: MIN_BACKOFF });
      void this.renew(id);
    }
  }

  get(id: string): Svid | undefined {
    return this.entries.get(id)?.svid;
  }

  trustBundle(): string[] {
    return this.roots;
  }

  /** Resolves once the identity has a certificate (or rejects after timeoutMs). */
  ready(id: string, timeoutMs = 10_000): Promise<Svid> {
    const have = this.get(id);
    if (have) return Promise.resolve(have);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.off('svid', on);
        reject(
          new Error(`no certificate for ${id}: ${this.entries.get(id)?.error ?? 'still waiting'}`),
        );
      }, timeoutMs);
      const on = (s: Svid) => {
        if (s.spiffeId !== id) return;
        clearTimeout(t);
        this.off('svid', on);
        resolve(s);
      };
      this.on('svid', on);
    });
  }

  status(): {
    spiffeId: string;
    serial: string | null;
    notAfter: string | null;
    error: string | null;
  }[] {
    return [...this.entries].map(([id, e]) => ({
      spiffeId: id,
      serial: e.svid?.serial ?? null,
      notAfter: e.svid?.notAfter.toISOString() ?? null,
      error: e.error ?? null,
    }));
  }

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  private async renew(id: string): Promise<void> {
    const e = this.entries.get(id);
    if (!e || this.closed) return;
    try {
      const { keyPem, csrPem } = await generateKeyAndCsr(id);
      const issued = await this.opts.client.sign(csrPem, id);
      if (this.entries.get(id) !== e || this.closed) return; // dropped meanwhile
      const svid: Svid = {
        spiffeId: id,
        keyPem,
        certChainPem: [issued.certPem, ...issued.chainPem].join(''),
        serial: issued.serial,
        notAfter: new Date(issued.notAfter),
        issuedAt: new Date(this.now()),
      };
      e.svid = svid;
      e.error = undefined;
      e.backoff = MIN_BACKOFF;
      this.setRoots(issued.roots);
      this.emit('svid', svid);
      const life = svid.notAfter.getTime() - this.now();
      // Half life, minus up to 10% jitter.
      const wait = Math.max(1000, life / 2 - Math.random() * life * 0.1);
      e.timer = setTimeout(() => void this.renew(id), wait);
    } catch (err) {
      if (this.entries.get(id) !== e || this.closed) return;
      e.error = (err as Error).message;
      this.opts.log?.(`certificate for ${id}: ${e.error}; retrying in ${e.backoff} ms`);
      e.timer = setTimeout(() => void this.renew(id), e.backoff);
      e.backoff = Math.min(MAX_BACKOFF, e.backoff * 2);
    }
  }

  private async refreshBundle(): Promise<void> {
    try {
      this.setRoots(await this.opts.client.bundle());
    } catch {
      // Keep the bundle we have; the next poll or renewal tries again.
    }
  }

  private setRoots(roots: string[]): void {
    if (roots.length === 0 || roots.join('') === this.roots.join('')) return;
    this.roots = roots;
    this.emit('bundle', roots);
  }

  close(): void {
    this.closed = true;
    clearInterval(this.bundleTimer);
    for (const e of this.entries.values()) clearTimeout(e.timer);
    this.entries.clear();
  }
}

/** A TLS context for presenting `svid` and trusting `roots`, TLS 1.3 only. */
export function tlsContext(svid: Svid, roots: string[]): SecureContext {
  return createSecureContext({
    key: svid.keyPem,
    cert: svid.certChainPem,
    ca: roots,
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
  });
}
