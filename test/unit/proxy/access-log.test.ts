// The access log holds what peers sent (authorities, paths): its memory is
// bounded by bytes, not only by entries, and query strings stay out unless asked.
import { describe, expect, it } from 'vitest';
import {
  ACCESS_LOG_BYTES,
  ACCESS_LOG_ENTRIES,
  type AccessEntry,
  AccessLog,
} from '../../../agent/src/telemetry/access-log.ts';
import { BoundedLog, clip, FIELD_MAX } from '../../../agent/src/telemetry/bounded-log.ts';

const refusedConnect = (authority: string): Omit<AccessEntry, 'time'> => ({
  direction: 'inbound',
  via: 'hbone',
  source: 'spiffe://cluster.local/ns/shop/sa/cart',
  sourceAddress: '10.0.1.5',
  destination: authority,
  destinationWorkload: 'shop/payments-1',
  bytesFromClient: 0,
  bytesToClient: 0,
  result: 'refused',
  detail: `unknown target ${authority}`,
});

describe('AccessLog', () => {
  it('stays under its byte bound when every entry carries a 60 KB authority', () => {
    const log = new AccessLog();
    for (let i = 0; i < 400; i++) log.add(refusedConnect(`${i}${'a'.repeat(60_000)}:80`));
    const entries = log.entries();
    // What the admin API serves, and what the log counts it holds.
    expect(JSON.stringify(entries).length).toBeLessThanOrEqual(ACCESS_LOG_BYTES);
    expect(log.bytes).toBeLessThanOrEqual(ACCESS_LOG_BYTES);
    for (const e of entries) {
      expect(e.destination.length).toBeLessThan(FIELD_MAX + 32);
      expect(e.detail!.length).toBeLessThan(FIELD_MAX + 32);
      expect(e.destination).toMatch(/…\(\d+ more\)$/);
    }
    // The newest are the ones kept.
    expect(entries.at(-1)!.destination.startsWith('399a')).toBe(true);
  });

  it('keeps the newest ACCESS_LOG_ENTRIES entries, oldest first', () => {
    const log = new AccessLog();
    const n = ACCESS_LOG_ENTRIES * 3 + 7;
    for (let i = 0; i < n; i++) log.add(refusedConnect(`10.0.0.1:${i}`));
    const entries = log.entries();
    expect(entries).toHaveLength(ACCESS_LOG_ENTRIES);
    expect(entries[0]!.destination).toBe(`10.0.0.1:${n - ACCESS_LOG_ENTRIES}`);
    expect(entries.at(-1)!.destination).toBe(`10.0.0.1:${n - 1}`);
  });

  it('passes entries on to its listener clipped, as it keeps them', () => {
    const log = new AccessLog();
    const seen: AccessEntry[] = [];
    log.onEntry = (e) => seen.push(e);
    log.add(refusedConnect(`${'b'.repeat(10_000)}:80`));
    expect(seen[0]!.destination).toBe(clip(`${'b'.repeat(10_000)}:80`));
    expect(log.entries()[0]).toBe(seen[0]);
  });

  it('records request paths without their query string unless asked', () => {
    const log = new AccessLog();
    expect(log.path('/orders?token=s3cret&x=1')).toBe('/orders?…');
    expect(log.path('/orders')).toBe('/orders');
    log.queryStrings = true;
    expect(log.path('/orders?token=s3cret')).toBe('/orders?token=s3cret');
  });
});

describe('BoundedLog', () => {
  it('drops the oldest entries to make room by bytes', () => {
    const ring = new BoundedLog<{ s: string }>(100, 10_000);
    for (let i = 0; i < 50; i++) ring.push({ s: `${i}`.padEnd(1000, '.') });
    expect(ring.bytes).toBeLessThanOrEqual(10_000);
    expect(ring.length).toBe(4);
    expect(ring.toArray().map((e) => Number.parseInt(e.s, 10))).toEqual([46, 47, 48, 49]);
    expect(ring.slice(2).map((e) => Number.parseInt(e.s, 10))).toEqual([48, 49]);
  });

  it('refuses a log with no room', () => {
    expect(() => new BoundedLog(0, 100)).toThrow(RangeError);
  });
});
