// The manifest directory as a live source: reads every manifest under a
// directory, then republishes whenever a file changes. fs.watch makes it quick;
// polling makes it sure (watch misses events on some filesystems and mounts).
import { EventEmitter } from 'node:events';
import { type FSWatcher, watch } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { ObjectError, Snapshot } from '../../state/index.ts';
import { LastGood } from './merge.ts';
import { type ParseResult, parseManifestFile } from './parse.ts';

export interface ManifestSourceOptions {
  /** How often to compare every file's mtime, size and inode; default 250 ms. */
  pollMs?: number;
  /** How long to let a burst of watch events settle before reading; default 15 ms. */
  debounceMs?: number;
  /** Use fs.watch as well as polling; default true. */
  watch?: boolean;
}

interface FileState {
  /** inode:size:mtime, to notice a change without reading. */
  readonly sig: string;
  readonly result: ParseResult;
}

/**
 * The wait for a burst of watch events to settle. Short: an editor's save is one or two
 * events within a millisecond, and each wait adds to every policy change's latency.
 */
export const DEFAULT_DEBOUNCE_MS = 15;

/** Manifests are YAML or JSON (which YAML reads as is). */
export function isManifestName(name: string): boolean {
  return /\.(ya?ml|json)$/i.test(name);
}

/** Dotfiles and dot-directories (`.git`, a ConfigMap volume's `..data`), editor leftovers. */
export function isIgnoredName(name: string): boolean {
  return name.startsWith('.') || name.endsWith('~') || /\.sw[a-p]$/.test(name);
}

/**
 * Emits 'snapshot' (Snapshot) when the objects change and 'errors' (ObjectError[],
 * the whole current set) when the errors change; neither is emitted for the state
 * start() resolves with. Errors about a whole file or directory (unreadable, gone)
 * have object ''.
 */
export class ManifestSource extends EventEmitter<{
  snapshot: [Snapshot];
  errors: [ObjectError[]];
}> {
  private readonly dir: string;
  private readonly pollMs: number;
  private readonly debounceMs: number;
  private readonly useWatch: boolean;
  private readonly merger = new LastGood();
  /** Keyed by path relative to dir. */
  private readonly files = new Map<string, FileState>();
  /** Paths a watch event named: read again even if their signature looks the same. */
  private readonly dirty = new Set<string>();
  private currentErrors: ObjectError[] = [];
  private watcher: FSWatcher | undefined;
  private watchedIno: bigint | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private debounceTimer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private again = false;
  private started = false;
  private closed = false;

  constructor(dir: string, opts: ManifestSourceOptions = {}) {
    super();
    this.dir = dir;
    this.pollMs = opts.pollMs ?? 250;
    this.debounceMs = opts.debounceMs ?? DEFAULT_DEBOUNCE_MS;
    this.useWatch = opts.watch ?? true;
  }

  /** Reads the directory once and starts watching it; rejects when it is missing. */
  async start(): Promise<Snapshot> {
    if (this.started) throw new Error(`manifest source for ${this.dir} already started`);
    this.started = true;
    let ino: bigint;
    try {
      const st = await stat(this.dir, { bigint: true });
      if (!st.isDirectory()) throw new Error(`manifest directory ${this.dir} is not a directory`);
      ino = st.ino;
    } catch (err) {
      if (code(err) === 'ENOENT')
        throw new Error(`manifest directory ${this.dir} does not exist`, { cause: err });
      if (code(err) !== undefined)
        throw new Error(`cannot read manifest directory ${this.dir}: ${message(err)}`, {
          cause: err,
        });
      throw err;
    }
    await this.rescan(false);
    if (!this.closed) {
      this.watchDir(ino);
      this.pollTimer = setInterval(() => void this.run(), this.pollMs);
    }
    return this.current();
  }

  current(): Snapshot {
    return this.merger.current();
  }

  errors(): ObjectError[] {
    return [...this.currentErrors];
  }

  close(): void {
    this.closed = true;
    clearInterval(this.pollTimer);
    clearTimeout(this.debounceTimer);
    this.watcher?.close();
    this.watcher = undefined;
  }

  private watchDir(ino: bigint): void {
    this.watcher?.close();
    this.watcher = undefined;
    this.watchedIno = ino;
    if (!this.useWatch) return;
    const onEvent = (_event: string, filename: string | Buffer | null) => {
      if (filename) this.dirty.add(normalize(filename.toString()));
      this.debounce();
    };
    for (const recursive of [true, false]) {
      try {
        const w = watch(this.dir, { recursive, persistent: true }, onEvent);
        // Polling carries on alone; a new directory inode brings a new watcher.
        w.on('error', () => {
          w.close();
          if (this.watcher === w) this.watcher = undefined;
        });
        this.watcher = w;
        return;
      } catch {
        // Recursive watching is unavailable here (or the tree is half unreadable): try flat.
      }
    }
  }

  private debounce(): void {
    if (this.closed || this.debounceTimer) return;
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = undefined;
      void this.run();
    }, this.debounceMs);
  }

  /** One scan at a time; a trigger during a scan asks for one more afterwards. */
  private run(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.scanning) {
      this.again = true;
      return this.scanning;
    }
    this.scanning = (async () => {
      do {
        this.again = false;
        await this.rescan(true);
      } while (this.again && !this.closed);
    })().finally(() => {
      this.scanning = undefined;
    });
    return this.scanning;
  }

  private async rescan(publish: boolean): Promise<void> {
    const dirty = new Set(this.dirty);
    this.dirty.clear();
    const scanErrors: ObjectError[] = [];
    try {
      await this.refresh(dirty, scanErrors);
    } catch (err) {
      // Should not happen; if it does, keep the last state and say so.
      scanErrors.push(dirError(this.dir, `reading the directory failed: ${message(err)}`));
    }
    if (this.closed) return;
    const merged = this.merger.apply(
      new Map([...this.files].map(([rel, f]) => [join(this.dir, rel), f.result])),
    );
    const errors = [...merged.errors, ...scanErrors].sort((a, b) =>
      a.file < b.file ? -1 : a.file > b.file ? 1 : 0,
    );
    const errorsChanged = !isDeepStrictEqual(errors, this.currentErrors);
    this.currentErrors = errors;
    if (!publish) return;
    if (merged.changed) this.emit('snapshot', merged.snapshot);
    if (errorsChanged) this.emit('errors', this.errors());
  }

  /** Brings this.files up to date with the directory. */
  private async refresh(dirty: ReadonlySet<string>, errors: ObjectError[]): Promise<void> {
    let root: bigint;
    try {
      root = (await stat(this.dir, { bigint: true })).ino;
    } catch (err) {
      // A vanished directory is more likely a redeploy in progress than a wish to empty the mesh.
      errors.push(
        dirError(
          this.dir,
          `cannot read the manifest directory (${message(err)}); keeping the last state`,
        ),
      );
      return;
    }
    // Deleted and made again: the old watcher watches an inode nobody will write to.
    if (this.watchedIno !== undefined && root !== this.watchedIno && !this.closed) {
      this.watchDir(root);
    }
    const found = new Map<string, string>();
    const unreadable: string[] = [];
    if (!(await this.walk('', found, unreadable, errors))) return;
    const keep = (rel: string) => unreadable.some((d) => rel.startsWith(d));
    for (const rel of [...this.files.keys()]) {
      if (!found.has(rel) && !keep(rel)) this.files.delete(rel);
    }
    for (const [rel, sig] of found) {
      if (this.files.get(rel)?.sig === sig && !dirty.has(rel)) continue;
      const result = await this.read(rel);
      if (result) this.files.set(rel, { sig, result });
      else this.files.delete(rel);
    }
  }

  /** Lists manifests under rel into found; false when rel is the root and cannot be listed. */
  private async walk(
    rel: string,
    found: Map<string, string>,
    unreadable: string[],
    errors: ObjectError[],
  ): Promise<boolean> {
    const abs = join(this.dir, rel);
    let entries: { name: string; isDirectory(): boolean }[];
    try {
      entries = await readdir(abs, { withFileTypes: true });
    } catch (err) {
      if (rel === '') {
        errors.push(
          dirError(
            this.dir,
            `cannot read the manifest directory (${message(err)}); keeping the last state`,
          ),
        );
        return false;
      }
      if (code(err) === 'ENOENT' || code(err) === 'ENOTDIR') return true;
      // Its files keep what they held: we cannot tell whether they are gone.
      errors.push(
        dirError(abs, `cannot read the directory (${message(err)}); keeping what its files held`),
      );
      unreadable.push(`${rel}/`);
      return true;
    }
    for (const e of entries) {
      if (isIgnoredName(e.name)) continue;
      const r = rel === '' ? e.name : join(rel, e.name);
      // Symlinked directories are not followed, so a link loop cannot trap the walk.
      if (e.isDirectory()) await this.walk(r, found, unreadable, errors);
      else if (isManifestName(e.name)) {
        try {
          const st = await stat(join(this.dir, r), { bigint: true });
          if (st.isFile()) found.set(r, `${st.ino}:${st.size}:${st.mtimeNs}`);
        } catch (err) {
          // A dangling link or a file deleted meanwhile is simply not there.
          if (code(err) !== 'ENOENT') found.set(r, `unreadable:${code(err)}`);
        }
      }
    }
    return true;
  }

  /** The file parsed, a broken result when it cannot be read, undefined when it is gone. */
  private async read(rel: string): Promise<ParseResult | undefined> {
    const file = join(this.dir, rel);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if (code(err) === 'ENOENT') return undefined;
      return {
        objects: [],
        rejected: [],
        ignored: [],
        errors: [dirError(file, `cannot read the file (${message(err)})`)],
        broken: true,
      };
    }
    return parseManifestFile(file, text);
  }
}

function dirError(file: string, msg: string): ObjectError {
  return { file, object: '', field: '', message: msg };
}

function code(err: unknown): string | undefined {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : undefined;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
