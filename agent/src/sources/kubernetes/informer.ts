// One resource kept in sync with the API server: @kubernetes/client-node's
// ListWatch (list, then watch from the list's resourceVersion; relist on 410
// Gone), plus what it leaves to its user: restart with jittered exponential
// backoff after errors (API server restarts, network loss), watch bookmarks
// so quiet resources keep a fresh resourceVersion, a bounded reconnect delay
// after a server-side watch timeout, and a `synced` flag that is true once
// the first list has been applied.
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { type KubeConfig, type KubernetesObject, ListWatch, Watch } from '@kubernetes/client-node';

export interface ListResult {
  readonly items: KubernetesObject[];
  readonly metadata?: { resourceVersion?: string };
}

export interface ResourceSpec {
  /** The collection's path, e.g. /api/v1/pods; also names the resource in errors. */
  readonly path: string;
  readonly kind: string;
  readonly apiVersion: string;
  readonly fieldSelector?: string;
  /** A CRD that may not be installed: 404 means "none", not an error to wait out. */
  readonly optional?: boolean;
  readonly list: () => Promise<ListResult>;
}

export interface Backoff {
  readonly baseMs: number;
  readonly maxMs: number;
}

export interface InformerOptions {
  readonly backoff?: Backoff;
  /** Asked of the server so watches end and restart now and then; default 300 s. */
  readonly watchTimeoutSeconds?: number;
  /** How often an absent optional resource is looked for again; default 30 s. */
  readonly absentRecheckMs?: number;
}

type WatchFn = Watch['watch'];

/** The HTTP status of a failed API call: Watch errors carry statusCode, API clients code. */
export function statusOf(err: unknown): number | undefined {
  const e = err as { statusCode?: number; code?: number | string } | undefined;
  if (typeof e?.statusCode === 'number') return e.statusCode;
  return typeof e?.code === 'number' ? e.code : undefined;
}

/** Full jitter on an exponential step: spreads a fleet of agents after an API server restart. */
export function backoffDelay(b: Backoff, attempt: number, random = Math.random): number {
  const cap = Math.min(b.maxMs, b.baseMs * 2 ** Math.min(attempt, 20));
  return Math.round(cap / 2 + (random() * cap) / 2);
}

/**
 * Emits 'change' after any object was added, updated or deleted (the initial
 * list included), and 'error' for every failed list or watch (it retries on its
 * own). Objects are served from the cache by items().
 */
export class ResourceInformer extends EventEmitter<{ change: []; error: [Error] }> {
  readonly spec: ResourceSpec;
  private readonly lw: ListWatch<KubernetesObject>;
  private readonly backoff: Backoff;
  private readonly absentRecheckMs: number;
  private attempt = 0;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;
  private absent = false;
  private listedOnce = false;
  private syncedOnce = false;
  private readonly syncWaiters: (() => void)[] = [];

  constructor(kc: KubeConfig, spec: ResourceSpec, opts: InformerOptions = {}) {
    super();
    this.spec = spec;
    this.backoff = opts.backoff ?? { baseMs: 500, maxMs: 30_000 };
    this.absentRecheckMs = opts.absentRecheckMs ?? 30_000;
    const timeout = opts.watchTimeoutSeconds ?? 300;
    const inner = new Watch(kc);
    // Watch drops a stream silent for 30 s; bookmarks come about once a minute. Wait longer,
    // or every quiet resource reconnects twice a minute.
    (inner as unknown as { requestTimeoutMs: number }).requestTimeoutMs = 90_000;
    // ListWatch calls watch() only once the list is applied (or to resume from a
    // known resourceVersion): from then on the cache is synced. It does not look at
    // the promise when reconnecting, so every failure must become done(err) here,
    // and a stop() that raced the list or the connect must close what opened.
    const watch: WatchFn = async (path, query, cb, done) => {
      this.markSynced();
      if (this.stopped) return new AbortController();
      try {
        const c = await inner.watch(
          path,
          { ...query, allowWatchBookmarks: true, timeoutSeconds: timeout },
          (phase, obj, raw) => {
            // Any event (a bookmark included) means the server is back: backoff starts over.
            this.attempt = 0;
            cb(phase, obj, raw);
          },
          done,
        );
        if (this.stopped) c.abort();
        return c;
      } catch (e) {
        done(e);
        return new AbortController();
      }
    };
    this.lw = new ListWatch(
      spec.path,
      { watch } as Watch,
      () => this.list(),
      false,
      undefined,
      spec.fieldSelector,
      // A server-side watch timeout is routine: resume soon, whatever ListWatch's own backoff says.
      { delayFn: (ms: number) => sleep(Math.min(ms, 1000)) },
    );
    const changed = () => {
      this.attempt = 0;
      this.emit('change');
    };
    this.lw.on('add', changed);
    this.lw.on('update', changed);
    this.lw.on('delete', changed);
    this.lw.on('error', (err: unknown) => this.failed(err));
  }

  get synced(): boolean {
    return this.syncedOnce;
  }

  /** Starts listing and watching; resolves once the first list is in the cache. */
  start(): Promise<void> {
    const ready = new Promise<void>((resolve) => {
      if (this.syncedOnce) resolve();
      else this.syncWaiters.push(resolve);
    });
    void this.lw.start().catch((e: unknown) => this.failed(e));
    return ready;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    void this.lw.stop();
  }

  items(): readonly KubernetesObject[] {
    return this.absent ? [] : this.lw.list();
  }

  private async list(): Promise<ListResult> {
    try {
      const l = await this.spec.list();
      // The resource appeared (its objects arrive through ListWatch's add callbacks), or is back.
      this.absent = false;
      this.listedOnce = true;
      this.attempt = 0;
      return l;
    } catch (e) {
      // "Not installed" only before it was ever served: a 404 later (an API server coming
      // back up) must not drop policies in force; the cache serves and the list is retried.
      if (this.spec.optional && !this.listedOnce && statusOf(e) === 404) {
        const wasAbsent = this.absent;
        this.absent = true;
        this.markSynced();
        if (!wasAbsent) this.emit('change');
        throw Object.assign(new Error(`${this.spec.path} is not served (CRD not installed)`), {
          absent: true,
        });
      }
      throw e;
    }
  }

  private markSynced(): void {
    if (this.syncedOnce) return;
    this.syncedOnce = true;
    for (const w of this.syncWaiters.splice(0)) w();
  }

  private failed(err: unknown): void {
    if (this.stopped) return;
    const absent = (err as { absent?: boolean }).absent === true;
    if (!absent) {
      const e = err instanceof Error ? err : new Error(String(err));
      const status = statusOf(err);
      // fetch says only "fetch failed": the cause tells refused from DNS from TLS.
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      const why = cause ? ` (${cause.code ?? cause.message})` : '';
      this.emit(
        'error',
        new Error(`${this.spec.path}: ${status ? `HTTP ${status}: ` : ''}${e.message}${why}`),
      );
    }
    const delay = absent ? this.absentRecheckMs : backoffDelay(this.backoff, this.attempt++);
    clearTimeout(this.retry);
    this.retry = setTimeout(() => {
      if (!this.stopped) void this.lw.start().catch((e: unknown) => this.failed(e));
    }, delay);
  }
}
