import type { Logger } from '../core/log.js';
import { defaultDrainDeadlineMs, type Switchyard } from '../main.js';
import { reopenAccessLogs } from '../observability/access-log.js';

/** After a stop, the process exits within this long whatever its caller does (see runUntilStopped). */
export const forcedExitAfterMs = 2_000;

/** Exit codes of SPEC.md: 0 clean stop, 3 drain deadline exceeded (or a forced second signal). */
export const exitCodes = { ok: 0, failure: 1, usage: 2, forced: 3 } as const;

/**
 * Stop signals that arrive while the balancer is still starting (config loaded, listeners opening): remembered
 * instead of killing the process, and acted on by `runUntilStopped` as soon as the balancer runs, so a SIGTERM at
 * any moment after the CLI began drains (docs/guarantees.md: nothing lost on restart).
 */
export class EarlyStopSignals {
  #signal: NodeJS.Signals | undefined;
  readonly #onSignal = (signal: NodeJS.Signals): void => {
    this.#signal ??= signal;
  };

  constructor() {
    process.on('SIGTERM', this.#onSignal);
    process.on('SIGINT', this.#onSignal);
  }

  /** Stops catching; returns the first stop signal that came while starting, if any. Safe to call twice. */
  release(): NodeJS.Signals | undefined {
    process.off('SIGTERM', this.#onSignal);
    process.off('SIGINT', this.#onSignal);
    return this.#signal;
  }
}

export interface RunHooks {
  /** Signals caught while starting (see EarlyStopSignals): released here, and a pending stop begins at once. */
  readonly early?: EarlyStopSignals;
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
 * Logs `started` once the handlers are in place; a stop signal before that drains too when the caller passed
 * `hooks.early` (the CLI does, from its first line), otherwise it ends the process at once.
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
    // From here on a stop drains; one that came while starting (when the caller caught it early) begins now.
    log.info({ pid: process.pid }, 'started');
    const pending = hooks.early?.release();
    if (pending !== undefined) onStop(pending);
  });
}
