// HTTP detection on a TCP port that routes bind without declaring it HTTP (a
// parentRef without `port`): the connection goes to the L7 engine only when
// its first bytes are an HTTP/1.1 request line or the HTTP/2 preface. Any other
// protocol, and a server-first one whose client waits for a greeting, stays on
// the L4 path with its bytes untouched.
import type { Socket } from 'node:net';

/** How long a client may stay silent before its connection is taken as a server-first protocol. */
export const DETECT_MS = 200;

// A method token (RFC 9110: letters, here as the methods clients send) and a space; the
// HTTP/2 preface starts `PRI `. A first chunk shorter than that counts as HTTP while it
// is letters only.
const REQUEST_LINE = /^[A-Z][A-Z-]{0,19}(?: |$)/;

export function looksLikeHttp(first: Buffer): boolean {
  return REQUEST_LINE.test(first.toString('latin1', 0, Math.min(first.length, 21)));
}

/**
 * Calls `done(true)` when the client's first bytes read as HTTP, `done(false)` for any
 * other bytes, an end without bytes or `DETECT_MS` of silence; never when the client
 * closes first. The bytes stay in the socket for whoever reads it next.
 */
export function detectHttp(client: Socket, done: (http: boolean) => void): void {
  let decided = false;
  const decide = (http: boolean) => {
    if (decided) return;
    decided = true;
    clearTimeout(timer);
    client.off('readable', onReadable);
    client.off('close', onClose);
    done(http);
  };
  const onReadable = () => {
    // Nothing buffered: the client ended without a byte; the end stays for the L4 path.
    if (client.readableLength === 0) return decide(false);
    const first = client.read() as Buffer;
    client.unshift(first);
    decide(looksLikeHttp(first));
  };
  const onClose = () => {
    decided = true;
    clearTimeout(timer);
    client.off('readable', onReadable);
  };
  const timer = setTimeout(() => decide(false), DETECT_MS);
  client.on('readable', onReadable);
  client.once('close', onClose);
}
