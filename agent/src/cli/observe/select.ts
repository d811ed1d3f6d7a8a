// Which flows `weft observe` shows: exact pod and namespace filters (as hubble
// observe's), the substring ones it always had, a verdict, a time window
// (--since) and the last N. Pure.
import type { Flow } from '../../telemetry/index.ts';

export interface FlowFilter {
  /** Substrings of the source / destination (a namespace/pod, a namespace, an IP). */
  from?: string;
  to?: string;
  /** Exactly this namespace/pod as the source, the destination, or either. */
  fromPod?: string;
  toPod?: string;
  pod?: string;
  /** A pod (or Service) of this namespace as the source, the destination, or either. */
  fromNamespace?: string;
  toNamespace?: string;
  namespace?: string;
  verdict?: Flow['verdict'];
  /** Only flows at or after this time (ms since the epoch). */
  sinceMs?: number;
}

/** The namespace of a flow's end: `ns/pod` or `ns/svc/name`; none for an address. */
export const namespaceOf = (end: string): string | undefined => {
  const slash = end.indexOf('/');
  return slash > 0 && !end.includes(' ') ? end.slice(0, slash) : undefined;
};

export function matches(f: Flow, x: FlowFilter): boolean {
  const src = namespaceOf(f.source);
  const dst = namespaceOf(f.destination);
  return (
    (!x.from || f.source.includes(x.from)) &&
    (!x.to || f.destination.includes(x.to)) &&
    (!x.fromPod || f.source === x.fromPod) &&
    (!x.toPod || f.destination === x.toPod) &&
    (!x.pod || f.source === x.pod || f.destination === x.pod) &&
    (!x.fromNamespace || src === x.fromNamespace) &&
    (!x.toNamespace || dst === x.toNamespace) &&
    (!x.namespace || src === x.namespace || dst === x.namespace) &&
    (!x.verdict || f.verdict === x.verdict) &&
    (x.sinceMs === undefined || Date.parse(f.time) >= x.sinceMs)
  );
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A duration as Go and hubble write it (`90s`, `5m`, `1h30m`, `500ms`), in ms;
 * or an RFC 3339 time, as the ms from it to now. Throws on anything else.
 */
export function sinceMs(text: string, now: number): number {
  const t = text.trim();
  if (/^\d{4}-\d{2}-\d{2}T/.test(t)) {
    const at = Date.parse(t);
    if (Number.isNaN(at)) throw new Error(`--since: not a time: ${text}`);
    return at;
  }
  const parts = [...t.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)];
  if (!parts.length || parts.map((p) => p[0]).join('') !== t)
    throw new Error(
      `--since: a duration such as 30s, 5m or 1h30m, or an RFC 3339 time, not ${JSON.stringify(text)}`,
    );
  return now - parts.reduce((ms, p) => ms + Number(p[1]) * UNITS[p[2]!]!, 0);
}

/** Flows of several nodes in time order (a stable merge: a node's own order kept). */
export function byTime(flows: Flow[]): Flow[] {
  return flows
    .map((f, i) => ({ f, i, t: Date.parse(f.time) }))
    .sort((a, b) => a.t - b.t || a.i - b.i)
    .map((x) => x.f);
}
