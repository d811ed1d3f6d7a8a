// One observer or request sink for the proxy, made of several (metrics, the
// access log): the proxy tells one, which tells each.
import type { ByteCounts, Connection, ConnectionObserver } from './connection.ts';
import type { RequestRecord, RequestSink } from './request-record.ts';

type Maybe<T> = T | null | undefined;

export function observers(...list: Maybe<ConnectionObserver>[]): ConnectionObserver | undefined {
  const xs = list.filter((x): x is ConnectionObserver => !!x);
  if (xs.length <= 1) return xs[0];
  return {
    opened: (c: Connection) => {
      for (const x of xs) x.opened(c);
    },
    closed: (c: Connection, n: ByteCounts) => {
      for (const x of xs) x.closed(c, n);
    },
  };
}

export function requestSinks(...list: Maybe<RequestSink>[]): RequestSink | undefined {
  const xs = list.filter((x): x is RequestSink => !!x);
  if (xs.length <= 1) return xs[0];
  return {
    request: (r: RequestRecord) => {
      for (const x of xs) x.request(r);
    },
  };
}
