// The destination side of the L7 engine: connections to an enrolled workload's
// port read as HTTP (an AuthorizationPolicy with HTTP rules, or a rate limit, on
// it) come here from the proxy's inbound pipeline, past their layer 4 checks. The
// protocol is read from the first bytes; each request is authorized, limited and
// sent to the app (inbound-h1.ts, inbound-h2.ts): HTTP/1.1 over an app connection
// of the client connection's own, HTTP/2 over sessions pooled per pod and port; on
// the same server plumbing as the outbound engine. One per node
// proxy (proxy/index.ts), with its own bounds, pools, rate limiters and drain.
import type { Duplex } from 'node:stream';
import { AppLine } from './app-line.ts';
import { byPreface, ClientHttp1 } from './client-http1.ts';
import { ClientSessions } from './client-sessions.ts';
import { DEFAULT_INBOUND_LIMITS, type InboundLimits, Turns } from './inbound-bounds.ts';
import { handleInbound1, type InboundParts } from './inbound-h1.ts';
import { handleInbound2 } from './inbound-h2.ts';
import type { InboundTarget } from './inbound-target.ts';
import { L7_LIMITS } from './limits.ts';
import { RateLimiters } from './rate-limit.ts';
import { Upstreams } from './upstream.ts';

interface Conn {
  readonly t: InboundTarget;
  readonly turns: Turns;
  readonly line: AppLine;
}

export class InboundL7 implements InboundParts {
  readonly upstreams = new Upstreams();
  readonly limiters = new RateLimiters();
  readonly limits: InboundLimits;
  /** Client connections served now (a handover waits for them). */
  private readonly served = new Set<Duplex>();
  /** The app connections of the HTTP/1.1 ones, one each. */
  private readonly lines = new Set<AppLine>();
  /** Requests whose handling threw (a bug): each cost its connection (HTTP/2: its stream) only. */
  errors = 0;
  private readonly h1 = new ClientHttp1<Conn>({
    onRequest: (c, req, res) => handleInbound1(this, c.t, c.turns, c.line, req, res),
    onFault: () => {
      this.errors++;
    },
    busy: (conn, on) => this.busyOf.get(conn)?.(conn, on),
  });
  private readonly busyOf = new WeakMap<object, (s: Duplex, on: boolean) => void>();
  private readonly h2 = new ClientSessions<InboundTarget>(
    (t, stream, headers, flags) => handleInbound2(this, t, stream, headers, flags),
    () => {
      this.errors++;
    },
  );

  /** `limits`: DEFAULT_INBOUND_LIMITS where not given. */
  constructor(limits: Partial<InboundLimits> = {}) {
    this.limits = { ...DEFAULT_INBOUND_LIMITS, ...limits };
  }

  /** Serves one client connection (a socket or an HBONE stream). */
  serve(conn: Duplex, t: InboundTarget): void {
    this.served.add(conn);
    conn.on('error', () => {});
    conn.once('close', () => this.served.delete(conn));
    const c = conn as Duplex & { setTimeout?: (ms: number) => void };
    c.setTimeout?.(L7_LIMITS.clientIdleMs);
    conn.on('timeout', () => {
      if (this.h1.pending(conn) === 0) conn.destroy();
    });
    if (t.busy) this.busyOf.set(conn, t.busy);
    byPreface(
      conn,
      () => {
        c.setTimeout?.(0);
        this.h2.serve(conn, t);
      },
      () => {
        const line = new AppLine(t.upstream, t.app);
        this.lines.add(line);
        conn.once('close', () => {
          this.lines.delete(line);
          line.close();
        });
        this.h1.serve(conn, { t, turns: new Turns(conn, this.limits), line });
      },
    );
  }

  /** Client connections served now. */
  connections(): number {
    return this.served.size;
  }

  /** Another agent took over: HTTP/1.1 answers say `Connection: close`, HTTP/2 sessions get GOAWAY. */
  drain(): void {
    this.h1.drain();
    this.h2.drain();
  }

  /** The app connections go: idle ones with a FIN, those with a request on them reset. */
  close(): void {
    for (const line of this.lines) line.close();
    this.lines.clear();
    this.upstreams.close();
  }
}
