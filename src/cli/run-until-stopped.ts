import type { Logger } from '../core/log.js';
import { defaultDrainDeadlineMs, type Switchyard } from '../main.js';
import { reopenAccessLogs } from '../observability/access-log.js';

/** After a stop, the process exits within this long whatever its caller does (see runUntilStopped). */
export const forcedExitAfterMs = 2_000;

/** Exit codes of SPEC.md: 0 clean stop, 3 drain deadline exceeded (or a forced second signal). */
export const exitCodes = { ok: 0, failure: 1, usage: 2, forced: 3 } as const;

export interface RunHooks {
  /** Called on SIGHUP / SIGUSR2 (reload); errors are logged, the running config stays. */
  readonly reload?: () => Promise<void>;
  /** Called when a stop begins, before the balancer drains (the demo deregisters its instances here). */
  readonly beforeStop?: () => Promise<void>;
}

/**
 * Runs a started balancer until SIGTERM or SIGINT, then drains it (in-flight requests finish within the deadline).
 * A second SIGINT or SIGTERM stops at once. SIGUSR1 reopens the access log files (after logrotate moved them).
 * Resolves with the process exit code, which the CLI passes to `process.exit()` at once (bin/switchyard.js and
 * src/cli/main.ts): a stopped process never leaves by letting its event loop drain. That way ends in Node's environment
 * teardown (`FreeEnvironment` → `RunCleanup` → `CleanupHandles`), which closes every remaining handle and calls
 * `uv_run` until every pending request has called back; a request that never does (nodejs/node#47748) makes it spin
 * at 100 % CPU forever, as 1 stop in about 60 did in the benchmark. `process.exit()` skips that teardown. As a bound,
 * a timer (which keeps the loop from draining) calls `process.exit()` itself `forcedExitAfterMs` after the stop.
 * Logs `started` once the handlers are in place: a stop signal before that ends the process at once, without a drain.
 */
export function runUntilStopped(switchyard: Switchyard, log: Logger, hooks: RunHooks = {}): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const onReload = (): void => {
      if (hooks.reload === undefined) return;
      hooks
        .reload()
        .catch((error: unknown) => log.error({ err: error }, 'reload failed; the running configuration stays'));
    };
    const onReopen = (): void => {
      reopenAccessLogs();
      log.info('log files reopened');
    };
    const finish = (code: number): void => {
      process.off('SIGUSR1', onReopen);
      process.off('SIGTERM', onStop);
      process.off('SIGINT', onStop);
      process.off('SIGHUP', onReload);
      process.off('SIGUSR2', onReload);
      // The bound: should the caller not exit promptly (a hook that hangs, an entry point that lets the loop drain),
      // this exits anyway, with the same code, before the loop can drain into the teardown that spins.
      setTimeout(() => process.exit(code), forcedExitAfterMs);
      resolve(code);
    };
    const onStop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        log.warn({ signal }, 'second stop signal: stopping at once');
        finish(exitCodes.forced);
        return;
      }
      stopping = true;
      log.info({ signal, deadlineMs: defaultDrainDeadlineMs }, 'draining');
      void (async () => {
        await hooks.beforeStop?.();
        return switchyard.close(defaultDrainDeadlineMs);
      })()
        .then((forced) => {
          log.info({ forced }, 'stopped');
          finish(forced ? exitCodes.forced : exitCodes.ok);
        })
        .catch((error: unknown) => {
          log.error({ err: error }, 'stop failed');
          finish(exitCodes.failure);
        });
    };
    process.on('SIGTERM', onStop);
    process.on('SIGINT', onStop);
    process.on('SIGHUP', onReload);
    process.on('SIGUSR2', onReload);
    process.on('SIGUSR1', onReopen);
    // From here on a stop drains: a SIGTERM before this line (during start) ends the process at once.
    log.info({ pid: process.pid }, 'started');
  });
}
