// What the agent asks of a source of cluster state (manifest directory, Kubernetes API).
import type { ObjectError, Snapshot } from '../state/index.ts';

export interface SnapshotSource {
  /** Reads the initial state; later changes arrive as 'snapshot' events. */
  start(): Promise<Snapshot>;
  on(event: 'snapshot', listener: (s: Snapshot) => void): unknown;
  /** The whole current set of rejected objects, each time it changes. */
  on(event: 'errors', listener: (e: ObjectError[]) => void): unknown;
  /** Trouble the source retries on its own (an API server that went away). */
  on(event: 'warning', listener: (w: string) => void): unknown;
  errors(): ObjectError[];
  /** Whether the initial state is complete; a source without the notion is always ready. */
  readonly ready?: boolean;
  close(): void;
}
