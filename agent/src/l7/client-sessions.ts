// Node's HTTP/2 server, never listening, fed client connections one at a time: each
// session keeps the context it was handed with, idles out after L7_LIMITS.clientIdleMs,
// and is sent GOAWAY on drain() (a handover). The outbound engine and the inbound
// authorization side each hold one.
import {
  constants,
  createServer,
  type Http2Server,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { Duplex } from 'node:stream';
import { L7_LIMITS } from './limits.ts';

export type StreamHandler<T> = (
  ctx: T,
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  flags: number,
) => void;

export class ClientSessions<T> {
  private readonly server: Http2Server;
  /** The context of the connection being handed in ('session' is emitted synchronously). */
  private handing: T | undefined;
  /** Sessions open now: a handover sends each GOAWAY. */
  private readonly sessions = new Set<ServerHttp2Session>();
  private draining = false;

  /** `onFault`: a stream's handling threw (a bug); that stream alone is closed. */
  constructor(onStream: StreamHandler<T>, onFault: () => void = () => {}) {
    this.server = createServer({
      maxHeaderListPairs: 256,
      settings: {
        maxConcurrentStreams: L7_LIMITS.clientStreams,
        maxHeaderListSize: L7_LIMITS.maxHeaderBytes,
      },
    });
    this.server.on('session', (session: ServerHttp2Session) => {
      const ctx = this.handing;
      if (ctx === undefined) return void session.destroy();
      session.on('error', () => {});
      session.setTimeout(L7_LIMITS.clientIdleMs, () => session.close());
      if (this.draining) session.close();
      else {
        this.sessions.add(session);
        session.once('close', () => this.sessions.delete(session));
      }
      session.on('stream', (stream, headers, flags) => {
        // A bug in one stream's handling costs that stream, never the agent.
        try {
          onStream(ctx, stream, headers, flags);
        } catch {
          onFault();
          stream.close(constants.NGHTTP2_INTERNAL_ERROR);
        }
      });
    });
  }

  /** Serves a connection whose first bytes (unshifted back) are the HTTP/2 preface. */
  serve(conn: Duplex, ctx: T): void {
    this.handing = ctx;
    try {
      this.server.emit('connection', conn);
    } finally {
      this.handing = undefined;
    }
  }

  /** GOAWAY to every open session, and at once to any that arrives later. */
  drain(): void {
    this.draining = true;
    for (const s of this.sessions) s.close();
  }
}
