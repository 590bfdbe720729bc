import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

/**
 * Polls `check` every `intervalMs` until it returns something other than `undefined` or `false`, and returns that.
 * Rejects with `what` and the last value seen (or error thrown) when `timeoutMs` passes first. Tests on a loaded
 * machine wait for a state instead of assuming how long it takes to arrive.
 */
export async function waitFor<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 5_000,
  what = 'the condition',
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) {
      const seen = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${seen})`);
    }
    await sleep(intervalMs);
  }
}
