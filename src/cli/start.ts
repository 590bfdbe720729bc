import { formatProblem, loadConfigFile } from '../config/load-file.js';
import type { SwitchyardConfigInput } from '../config/schema.js';
import { SwitchyardError } from '../core/errors.js';
import { createLogger, type LogFormat } from '../core/log.js';
import { startCluster, workerCount } from '../cluster/primary.js';
import { createSwitchyard } from '../main.js';
import { generateAdminToken, publishAdminToken } from './admin-token.js';
import { EarlyStopSignals, exitCodes, runUntilStopped } from './run-until-stopped.js';
import { watchConfigFile } from './watch-config.js';

export interface StartOptions {
  readonly config?: string;
  readonly listen?: string;
  readonly to?: readonly string[];
  readonly algorithm?: string;
  readonly logFormat?: LogFormat;
  readonly logLevel?: string;
  /** Admin API address for the one-liner, or `off`. */
  readonly admin?: string;
  /** Reload when the config file changes. */
  readonly watch?: boolean;
}

/** `switchyard start`: from a config file, or config-less with `--listen` and `--to`. */
export async function start(options: StartOptions): Promise<number> {
  const early = new EarlyStopSignals();
  try {
    return await startCaught(options, early);
  } finally {
    early.release();
  }
}

async function startCaught(options: StartOptions, early: EarlyStopSignals): Promise<number> {
  const log = createLogger({ format: options.logFormat, level: options.logLevel });
  const file = options.config ?? process.env['SWITCHYARD_CONFIG'] ?? 'switchyard.yaml';
  const oneLiner = options.to !== undefined && options.to.length > 0;
  if (!oneLiner && options.listen !== undefined)
    throw new SwitchyardError('--listen needs at least one --to URL', exitCodes.usage);
  let config: SwitchyardConfigInput;
  /** The one-liner's admin token when it made one (no SWITCHYARD_ADMIN_TOKEN): printed and kept in the token file. */
  let generated: string | undefined;
  if (oneLiner) {
    const fromEnv = process.env['SWITCHYARD_ADMIN_TOKEN'];
    const token = fromEnv !== undefined && fromEnv !== '' ? fromEnv : (generated = generateAdminToken());
    config = oneLinerConfig(options.listen ?? ':8080', options.to ?? [], options.algorithm, options.admin, token);
    if (options.admin === 'off') generated = undefined;
  } else {
    const loaded = await loadConfigFile(file);
    if (!loaded.ok) {
      for (const problem of loaded.problems) process.stderr.write(`${formatProblem(problem)}\n`);
      return exitCodes.failure;
    }
    config = loaded.config;
    if (adminIsOpen(config))
      log.warn(
        { admin: config.admin?.address ?? '127.0.0.1:9901' },
        'the admin API has no token: any local user can drain, reweight or reload; set admin.tokens.admin',
      );
  }
  const readFile = async (): Promise<SwitchyardConfigInput> => {
    const loaded = await loadConfigFile(file);
    if (!loaded.ok) {
      const problems = loaded.problems.map(formatProblem);
      throw new SwitchyardError(problems.join('\n'), 1, problems);
    }
    return loaded.config;
  };
  // `workers` (config file only): this process becomes the cluster primary and forks the data plane.
  const workers = oneLiner ? 0 : workerCount(config.workers);
  const cluster =
    workers > 0 ? await startCluster(config, { logger: log, reload: readFile }, workers, options.logFormat) : undefined;
  const switchyard =
    cluster ?? (await createSwitchyard(config, { logger: log, ...(oneLiner ? {} : { reload: readFile }) }));
  if (oneLiner) {
    const host = config.admin?.address?.replace(/:\d+$/, '') || '127.0.0.1';
    const tokenFile =
      generated === undefined
        ? undefined
        : await publishAdminToken(
            `http://${host}:${switchyard.address('admin').port}`,
            switchyard.address('admin').port,
            generated,
            log,
          );
    try {
      return await runUntilStopped(switchyard, log, { early });
    } finally {
      await tokenFile?.remove();
    }
  }
  const reload = async (): Promise<void> => {
    await switchyard.reload();
    log.info({ file }, 'configuration reloaded');
  };
  const unwatch = options.watch === true ? watchConfigFile(file, reload, log) : undefined;
  try {
    return await runUntilStopped(switchyard, log, { reload, early });
  } finally {
    unwatch?.();
    cluster?.kill(); // after a forced stop, workers still draining go at once
  }
}

/**
 * The configuration `start --listen ADDR --to URL …` stands for: one listener, one service, one catch-all route, and
 * the admin API with `token` as its admin token.
 */
export function oneLinerConfig(
  listen: string,
  to: readonly string[],
  algorithm?: string,
  admin?: string,
  token?: string,
): SwitchyardConfigInput {
  return {
    admin:
      admin === 'off'
        ? { enabled: false }
        : { address: admin ?? '127.0.0.1:9901', ...(token === undefined ? {} : { tokens: { admin: token } }) },
    listeners: [{ name: 'web', protocol: 'http', address: listen, service: 'default' }],
    services: {
      default: {
        ...(algorithm === undefined ? {} : { algorithm: algorithm as 'round-robin' }),
        endpoints: to.map((url) => ({ url })),
      },
    },
  };
}

/** True when a configuration file opens an admin API without any token (allowed on loopback only). */
function adminIsOpen(config: SwitchyardConfigInput): boolean {
  const admin = config.admin;
  if (admin?.enabled === false) return false;
  const set = (token: string | undefined): boolean => token !== undefined && token !== '';
  const tokens = admin?.tokens;
  return !set(tokens?.admin) && !set(tokens?.read) && !(tokens?.register ?? []).some((entry) => set(entry.token));
}
