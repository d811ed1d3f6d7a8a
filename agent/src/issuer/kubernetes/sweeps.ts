// One status sweep at a time: a change during a sweep runs one more after it, and a
// failed write is tried again after RETRY_MS (the API server may be coming back).
// The AuthorizationPolicy and route status writers each drive one.

/** How long a failed status write waits before the next sweep tries it again. */
export const RETRY_MS = 5000;

export class Sweeps {
  private running = Promise.resolve();
  private busy = false;
  private again = false;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;

  private readonly sweep: () => Promise<void>;

  constructor(sweep: () => Promise<void>) {
    this.sweep = sweep;
  }

  /** Something changed: sweep now, or once more after the sweep under way. */
  kick(): void {
    if (this.closed) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    this.running = this.sweep().finally(() => {
      this.busy = false;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  /** A write failed: sweep again in RETRY_MS (once, however many failed). */
  retryLater(): void {
    if (this.retry || this.closed) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.kick();
    }, RETRY_MS);
  }

  /** Resolves once the sweeps so far are done. */
  settled(): Promise<void> {
    return this.running;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
  }
}
