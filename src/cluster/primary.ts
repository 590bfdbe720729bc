import { availableParallelism } from 'node:os';
import type { SwitchyardConfigInput } from '../config/schema.js';
import type { LogFormat } from '../core/log.js';
import { startSwitchyard, type Switchyard, type SwitchyardOptions } from '../main.js';
import { WorkerPool } from './worker-pool.js';

/** A balancer whose data plane runs in cluster workers. */
export interface ClusterSwitchyard extends Switchyard {
  /** Kills every worker at once (a second stop signal, after `close()` began). */
  kill(): void;
}

/** The number of workers `workers` stands for: `auto` is one per available CPU; 0 means one process. */
export function workerCount(workers: 'auto' | number | undefined): number {
  if (workers === 'auto') return availableParallelism();
  return workers ?? 0;
}

/**
 * Starts this process as the `node:cluster` primary: the control plane, the admin API and metrics here, and `size`
 * workers that run the data plane on the sockets this process holds (docs/operations.md "Workers").
 */
export async function startCluster(
  input: SwitchyardConfigInput,
  options: SwitchyardOptions,
  size: number,
  logFormat?: LogFormat,
): Promise<ClusterSwitchyard> {
  let pool: WorkerPool | undefined;
  const switchyard = await startSwitchyard(input, options, (log, facts) => {
    pool = new WorkerPool({ size, log, facts, ...(logFormat === undefined ? {} : { logFormat }) });
    return pool;
  });
  return {
    address: (listener) => switchyard.address(listener),
    apply: (config) => switchyard.apply(config),
    reload: () => switchyard.reload(),
    close: async (deadlineMs) => {
      // A second stop signal while the workers drain stops them at once (the CLI then exits with 3).
      const force = (): void => pool?.kill();
      process.once('SIGINT', force).once('SIGTERM', force);
      try {
        return await switchyard.close(deadlineMs);
      } finally {
        process.off('SIGINT', force).off('SIGTERM', force);
      }
    },
    kill: () => pool?.kill(),
  };
}
