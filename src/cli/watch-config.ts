import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import type { Logger } from '../core/log.js';

/** How long a burst of file events (an editor's write-rename-chmod, a `kubectl` ConfigMap swap) is let settle. */
const settleMs = 250;

/**
 * Watches a config file for changes and calls `reload` once per real change. It watches the file's *directory*
 * (ecosystem.md: editors and ConfigMap updates replace the file by rename, which a watch on the file itself loses),
 * lets a burst of events settle, and reloads only when the content actually differs from what was last loaded, so a
 * `touch` or a rewrite with the same bytes is no reload. Returns a function that stops watching.
 */
export function watchConfigFile(file: string, reload: () => Promise<void>, log: Logger): () => void {
  const path = resolve(file);
  const name = basename(path);
  let timer: NodeJS.Timeout | undefined;
  let lastDigest: string | undefined;
  let running: Promise<void> = Promise.resolve();
  const digestOf = async (): Promise<string | undefined> => {
    try {
      return createHash('sha256')
        .update(await readFile(path))
        .digest('hex');
    } catch {
      return undefined; // mid-rename: the next event reads it
    }
  };
  void digestOf().then((digest) => (lastDigest ??= digest));
  const check = (): void => {
    running = running.then(async () => {
      const digest = await digestOf();
      if (digest === undefined || digest === lastDigest) return;
      lastDigest = digest;
      log.info({ file: path }, 'configuration file changed: reloading');
      await reload().catch((error: unknown) =>
        log.error({ err: error }, 'reload failed; the running configuration stays'),
      );
    });
  };
  let watcher: FSWatcher;
  try {
    watcher = watch(dirname(path), (_event, changed) => {
      if (changed !== null && changed !== name) return;
      clearTimeout(timer);
      timer = setTimeout(check, settleMs);
    });
  } catch (error) {
    log.warn({ err: error, file: path }, 'cannot watch the configuration file; reload with SIGHUP');
    return () => undefined;
  }
  watcher.on('error', (error) => log.warn({ err: error, file: path }, 'configuration watch failed'));
  return () => {
    clearTimeout(timer);
    watcher.close();
  };
}
