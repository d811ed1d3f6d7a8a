// Verdicts the kernel made (connect-time and sk_lookup refusals): into the flow
// log, and the most recent kept for the admin API's /events.
import type { DatapathEvent, EventStream } from '../datapath/index.ts';
import { BoundedLog, type FlowLog } from '../telemetry/index.ts';

/** Kernel verdict events kept for /events at most (fixed-size records: the count binds first). */
export const EVENT_LOG_ENTRIES = 1000;
export const EVENT_LOG_BYTES = 1024 * 1024;

export class KernelEvents {
  /** Kernel verdicts for /events: fixed-size records, EVENT_LOG_ENTRIES at most. */
  private readonly recentEvents = new BoundedLog<Record<string, unknown>>(
    EVENT_LOG_ENTRIES,
    EVENT_LOG_BYTES,
  );

  private readonly events: EventStream;

  constructor(
    events: EventStream,
    flows: FlowLog,
    /** The key of the workload installed under a workload id. */
    keyOf: (id: number) => string | undefined,
    log: (line: string) => void,
    /** Each event as it arrives (the node's metrics count them). */
    onEvent?: (e: DatapathEvent) => void,
  ) {
    this.events = events;
    events.on('error', (e) => log(`datapath event dropped: ${e.message}`));
    events.on('event', (e) => {
      onEvent?.(e);
      flows.fromKernel(e, keyOf);
      this.recentEvents.push({
        ...e,
        tsNs: e.tsNs.toString(),
        cgroupId: e.cgroupId.toString(),
        cookie: e.cookie.toString(),
      });
    });
  }

  recent(): Record<string, unknown>[] {
    return this.recentEvents.toArray();
  }

  close(): void {
    this.events.close();
  }
}
