// The field readers of the DestinationRule parser: Istio's names, Istio's duration form,
// and a refusal, by name, of every field weft does not apply (a `subsets` read and
// dropped would send traffic where its author did not mean it to go). Pure.
import { describe, fieldKey, isAbsent } from '../fields.ts';
import { RouteReporter } from '../routes/reader.ts';

/** Istio's duration: number-unit pairs of h, m, s, ms (decimals allowed), at least 1 ms. */
const durationRe = /^(?:[0-9]+(?:\.[0-9]+)?(?:h|ms|m|s))+$/;
/** The longest duration weft takes (a day): longer is a mistake, and timers must fit. */
export const MAX_DURATION_MS = 86_400_000;
/** Istio's int32 fields. */
export const INT32_MAX = 2_147_483_647;

export class DrReporter extends RouteReporter {
  /**
   * Fields of `m` under `field`: `accepted` are read by the caller; any other is refused,
   * those Istio defines (`istio`) with the reason that weft does not apply them.
   */
  fields(
    m: Record<string, unknown>,
    field: string,
    accepted: readonly string[],
    istio: readonly string[],
  ): void {
    for (const k of Object.keys(m)) {
      if (accepted.includes(k)) continue;
      const at = `${field}${fieldKey(k)}`;
      if (istio.includes(k))
        this.add(
          at,
          `expected only ${accepted.join(', ')}, found ${k}: weft does not apply it (docs/resilience.md lists what it applies); remove it`,
        );
      else
        this.add(
          at,
          `expected one of ${accepted.join(', ')}, found the unknown field ${JSON.stringify(k)}`,
        );
    }
  }

  /** Istio's duration (`1h`, `1m`, `1s`, `500ms`, `1.5s`) in milliseconds; undefined when absent. */
  istioDuration(v: unknown, field: string): number | undefined {
    if (isAbsent(v)) return undefined;
    if (typeof v === 'string' && durationRe.test(v)) {
      let ms = 0;
      for (const m of v.matchAll(/([0-9.]+)(h|ms|m|s)/g)) {
        const n = Number(m[1]);
        ms +=
          m[2] === 'h' ? n * 3_600_000 : m[2] === 'm' ? n * 60_000 : m[2] === 's' ? n * 1000 : n;
      }
      if (ms >= 1 && ms <= MAX_DURATION_MS) return Math.round(ms);
    }
    this.add(
      field,
      `expected a duration from 1ms to 24h such as 1h, 1m, 10s, 500ms or 1.5s, found ${describe(v)}`,
    );
    return undefined;
  }

  /** A whole number from `min` to `max`; undefined when absent. */
  optInt(v: unknown, field: string, min: number, max: number): number | undefined {
    return isAbsent(v) ? undefined : this.int(v, field, min, max);
  }
}
