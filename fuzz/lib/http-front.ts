// The L7 front as the proxy runs it (proxy/inbound-http.ts and l7/inbound-h1.ts: Node's HTTP/1.1 parser, the target
// normalization, AuthorizationPolicy per request, the forward to the app), fed one input
// per client connection in process: the connection is a Duplex as an HBONE stream is,
// and the app behind it an in-process Duplex answering every request it is sent. Used by
// fuzz/http-front.fuzz.ts and the corpus replay in make test.
import { Duplex } from 'node:stream';
import type { PolicyTables } from '../../agent/src/compile/policy.ts';
import { InboundL7 } from '../../agent/src/l7/inbound.ts';
import { checkRequest } from '../../agent/src/proxy/authorize.ts';
import { type HttpTarget, serveHttp } from '../../agent/src/proxy/inbound-http.ts';
import { parseAuthorizationPolicy } from '../../agent/src/sources/policy/authz-parse.ts';
import type { Pod } from '../../agent/src/state/types.ts';
import { AccessLog } from '../../agent/src/telemetry/access-log.ts';
import { Connection } from '../../agent/src/telemetry/connection.ts';
import { DirectionStats } from '../../agent/src/telemetry/stats.ts';

const cart: Pod = {
  namespace: 'shop',
  name: 'cart',
  labels: { app: 'cart' },
  annotations: {},
  serviceAccountName: 'cart',
  nodeName: 'n1',
  ports: [{ containerPort: 8080, protocol: 'TCP' }],
  podIP: '10.0.0.2',
};

// Rules that read every part of a request: method, path, host, a header; ALLOW and DENY.
const policies = [
  {
    metadata: { name: 'reads', namespace: 'shop' },
    spec: {
      selector: { matchLabels: { app: 'cart' } },
      rules: [
        { to: [{ operation: { methods: ['GET', 'HEAD'], paths: ['/items*', '/'] } }] },
        { to: [{ operation: { methods: ['POST', 'PUT'], hosts: ['cart*'] } }] },
      ],
    },
  },
  {
    metadata: { name: 'block', namespace: 'shop' },
    spec: {
      selector: { matchLabels: { app: 'cart' } },
      action: 'DENY',
      rules: [{ when: [{ key: 'request.headers[x-block]', values: ['*'] }] }],
    },
  },
].map((d, i) => {
  const r = parseAuthorizationPolicy(
    'fuzz',
    { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', ...d },
    i,
  );
  if (!r.policy) throw new Error(JSON.stringify(r.errors));
  return r.policy;
});

const tables: PolicyTables = {
  networkPolicies: [],
  authorizationPolicies: policies,
  namespaces: new Map(),
  podsByIP: new Map([['10.0.0.2', cart]]),
  pods: new Map([['shop/cart', cart]]),
  servicesByIP: new Map(),
  rootNamespace: 'weft-system',
  trustDomain: 'cluster.local',
};

/** What the front did with one input. */
export interface Outcome {
  /** Bytes written back to the client. */
  readonly answered: number;
  /** Requests that reached the app. */
  readonly forwarded: number;
  /** Something the front must never do, or undefined. */
  readonly defect?: string;
}

const RESPONSE = Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok');

/** A Duplex with the socket methods Node's HTTP client and server call. */
function socketLike(d: Duplex): Duplex {
  const self = d as Duplex & Record<string, unknown>;
  for (const m of ['setTimeout', 'setNoDelay', 'setKeepAlive', 'ref', 'unref']) self[m] = () => d;
  return d;
}

let seq = 0;
/** The destination side, as one node proxy holds it, shared by every input. */
const l7 = new InboundL7();

/** Feeds `input` to the front as one client connection, then ends it; resolves when it is done. */
export function feed(input: Buffer, timeoutMs = 5000): Promise<Outcome> {
  return new Promise((resolve) => {
    let answered = 0;
    let forwarded = 0;
    let defect: string | undefined;
    const app = (): Duplex => {
      forwarded++;
      let head = '';
      let replied = false;
      const d: Duplex = socketLike(
        new Duplex({
          read() {},
          write(chunk: Buffer, _enc, cb) {
            if (head.length < 65_536) head += chunk.toString('latin1');
            const end = head.indexOf('\r\n\r\n');
            if (!replied && end >= 0) {
              replied = true;
              // What the front sends on must be one well-formed head: no bare CR or LF.
              if (/\r(?!\n)|(?<!\r)\n/.test(head.slice(0, end)))
                defect = `the app got a head with a bare CR or LF: ${JSON.stringify(head.slice(0, 200))}`;
              d.push(RESPONSE);
              d.push(null);
            }
            cb();
          },
        }),
      );
      return d;
    };
    const n = ++seq;
    const target: HttpTarget = {
      // Its own app pool (the proxy keeps one per app endpoint, dialing as the first target said).
      netnsPath: `fuzz-${n}`,
      ip: '10.0.0.2',
      port: 8080,
      pool: undefined as never,
      conn: new Connection(
        { stats, log: quietLog, observer: null, registry: null },
        'inbound',
        'plaintext',
        null,
        '10.0.0.1',
        '10.0.0.2:8080',
        'shop/cart',
      ),
      authorize: (req) => checkRequest(tables, 'shop/cart', { ip: '10.0.0.1' }, 8080, req),
      dial: app,
    };
    const conn = socketLike(
      new Duplex({
        read() {},
        write(chunk: Buffer, _enc, cb) {
          answered += chunk.length;
          cb();
        },
      }),
    );
    const entry = {
      since: performance.now(),
      timeoutMs,
      conn,
      hung: () => {
        defect ??= `the connection was still open ${timeoutMs} ms after the client's input ended`;
      },
    };
    open.add(entry);
    watch();
    conn.on('close', () => {
      open.delete(entry);
      resolve({ answered, forwarded, ...(defect ? { defect } : {}) });
    });
    serveHttp(l7, target, conn);
    conn.push(input);
    // The client ends its side a moment later, so that allowed requests can be answered first.
    setImmediate(() => conn.push(null));
  });
}

// One watchdog for every connection in flight: one that outlives its time is a hang.
const open = new Set<{ since: number; timeoutMs: number; conn: Duplex; hung: () => void }>();
let watchdog: NodeJS.Timeout | undefined;
function watch(): void {
  if (watchdog) return;
  watchdog = setInterval(() => {
    const now = performance.now();
    for (const e of open)
      if (now - e.since > e.timeoutMs) {
        e.hung();
        e.conn.destroy();
      }
    if (open.size === 0) {
      clearInterval(watchdog);
      watchdog = undefined;
    }
  }, 250);
  watchdog.unref();
}

const quietLog = new AccessLog(1);
const stats = new DirectionStats();
