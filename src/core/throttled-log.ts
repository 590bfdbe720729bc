import type { Logger } from './log.js';

/**
 * An `'error'` handler for a listening server that logs at most one line per `intervalMs`, with the number of errors
 * left out since the last line (`suppressed`). Accept errors (EMFILE when the process is out of file descriptors) can
 * come thousands of times a second; the server keeps listening and accepts again once descriptors are free.
 */
export function throttledErrorLog(log: Logger, message: string, intervalMs = 5_000): (error: Error) => void {
  let last = -Infinity;
  let suppressed = 0;
  return (error) => {
    const now = Date.now();
    if (now - last < intervalMs) {
      suppressed++;
      return;
    }
    last = now;
    log.error({ err: error, ...(suppressed > 0 ? { suppressed } : {}) }, message);
    suppressed = 0;
  };
}

/**
 * A warning about something a peer did (a request Node's HTTP parser refused, say), logged at most once per
 * `intervalMs` with the number of occurrences left out since the last line (`suppressed`): a client sending garbage
 * in a loop cannot flood the log.
 */
export function throttledWarning(
  log: Logger,
  message: string,
  intervalMs = 5_000,
): (fields: Readonly<Record<string, unknown>>) => void {
  let last = -Infinity;
  let suppressed = 0;
  return (fields) => {
    const now = Date.now();
    if (now - last < intervalMs) {
      suppressed++;
      return;
    }
    last = now;
    log.warn({ ...fields, ...(suppressed > 0 ? { suppressed } : {}) }, message);
    suppressed = 0;
  };
}
