// Waiting for a condition in a test: by deadline, not a count of short sleeps, so a
// loaded machine (a CI run of every file at once) waits longer instead of failing.

/** Resolves when `ok()` holds; throws naming `what` after `ms`. */
export async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
