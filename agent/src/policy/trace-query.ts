// A trace's question as the admin API's query string (`weft policy trace --live`) and
// back, so the agents trace exactly what the offline trace would: method, path, host
// and every header.
import type { AuthzRequest } from '../state/index.ts';

export interface TraceQuery {
  readonly from: string;
  readonly to: string;
  readonly port: number;
  /** Absent: TCP. */
  readonly protocol?: 'UDP';
  readonly http?: AuthzRequest;
}

/** The request `--http METHOD PATH -H ...` describes: Host from the headers, else the target. */
export function traceRequest(
  http: { readonly method: string; readonly path: string },
  headers: Readonly<Record<string, string>>,
  to: string,
): AuthzRequest {
  return { ...http, host: headers.host ?? to, headers };
}

export function traceQueryString(q: TraceQuery): URLSearchParams {
  const p = new URLSearchParams({ from: q.from, to: q.to, port: String(q.port) });
  if (q.protocol) p.set('protocol', q.protocol);
  if (q.http) {
    p.set('method', q.http.method);
    p.set('path', q.http.path);
    p.set('host', q.http.host);
    for (const [k, v] of Object.entries(q.http.headers)) p.append('header', `${k}:${v}`);
  }
  return p;
}

export function parseTraceQuery(p: URLSearchParams): TraceQuery {
  const method = p.get('method');
  const headers: Record<string, string> = {};
  for (const h of p.getAll('header')) {
    const i = h.indexOf(':');
    if (i <= 0) throw new Error(`header '${h}' is not NAME:VALUE`);
    headers[h.slice(0, i).toLowerCase()] = h.slice(i + 1);
  }
  return {
    from: p.get('from') ?? '',
    to: p.get('to') ?? '',
    port: Number(p.get('port')),
    ...(p.get('protocol') === 'UDP' ? { protocol: 'UDP' as const } : {}),
    ...(method
      ? { http: { method, path: p.get('path') ?? '/', host: p.get('host') ?? '', headers } }
      : {}),
  };
}
