// Listening on a unix socket that only its owner may use, with no moment at
// which it is reachable with looser permissions. bind() creates the socket file
// with the process umask, and a chmod after listen() would leave a window in
// which anyone may connect; changing the umask around bind() is process-wide
// and would change files other code creates meanwhile (libuv's thread pool runs
// concurrently). So: bind in a fresh directory of mode 0700 (mkdtemp), chmod the
// socket there, and rename it into place. rename() is atomic, so the path
// either is the old file or the new socket with its final mode.
import {
  chmodSync,
  mkdtempSync,
  renameSync,
  rmSync,
  type Stats,
  statSync,
  unlinkSync,
} from 'node:fs';
import type { Server } from 'node:net';
import { dirname, join } from 'node:path';

/**
 * Listens on path with the given mode (default 0600), replacing what was there.
 * Returns what removes the socket file again, unless another process has replaced it since.
 */
export async function listenUnix(server: Server, path: string, mode = 0o600): Promise<() => void> {
  const dir = mkdtempSync(join(dirname(path), '.s'));
  const tmp = join(dir, 's');
  try {
    await new Promise<void>((resolve, reject) => {
      const fail = (e: Error) => reject(e);
      server.once('error', fail);
      server.listen(tmp, () => {
        server.off('error', fail);
        resolve();
      });
    });
    chmodSync(tmp, mode);
    renameSync(tmp, path);
  } catch (e) {
    server.close();
    throw new Error(`listen on ${path}: ${(e as Error).message}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const ours = statSync(path);
  return () => {
    let now: Stats;
    try {
      now = statSync(path);
    } catch {
      return;
    }
    if (now.ino === ours.ino && now.dev === ours.dev) unlinkSync(path);
  };
}
