import { formatProblem, loadConfigFile } from '../config/load-file.js';
import type { SwitchyardConfigInput } from '../config/schema.js';
import { SwitchyardError } from '../core/errors.js';
import { createLogger, type LogFormat } from '../core/log.js';
import { createSwitchyard } from '../main.js';
import { exitCodes, runUntilStopped } from './run-until-stopped.js';

export interface StartOptions {
  readonly config?: string;
  readonly listen?: string;
  readonly to?: readonly string[];
  readonly algorithm?: string;
  readonly logFormat?: LogFormat;
  readonly logLevel?: string;
}

/** `switchyard start`: from a config file, or config-less with `--listen` and `--to`. */
export async function start(options: StartOptions): Promise<number> {
  const log = createLogger({ format: options.logFormat, level: options.logLevel });
  const file = options.config ?? process.env['SWITCHYARD_CONFIG'] ?? 'switchyard.yaml';
  const oneLiner = options.to !== undefined && options.to.length > 0;
  if (!oneLiner && options.listen !== undefined)
    throw new SwitchyardError('--listen needs at least one --to URL', exitCodes.usage);
  let config: SwitchyardConfigInput;
  if (oneLiner) {
    config = oneLinerConfig(options.listen ?? ':8080', options.to ?? [], options.algorithm);
  } else {
    const loaded = await loadConfigFile(file);
    if (!loaded.ok) {
      for (const problem of loaded.problems) process.stderr.write(`${formatProblem(problem)}\n`);
      return exitCodes.failure;
    }
    config = loaded.config;
  }
  const switchyard = await createSwitchyard(config, { logger: log });
  const reload = oneLiner
    ? undefined
    : async (): Promise<void> => {
        const loaded = await loadConfigFile(file);
        if (!loaded.ok) throw new SwitchyardError(loaded.problems.map(formatProblem).join('\n'));
        await switchyard.apply(loaded.config);
        log.info({ file }, 'configuration reloaded');
      };
  return runUntilStopped(switchyard, log, reload === undefined ? {} : { reload });
}

/** The configuration `start --listen ADDR --to URL …` stands for: one listener, one service, one catch-all route. */
export function oneLinerConfig(listen: string, to: readonly string[], algorithm?: string): SwitchyardConfigInput {
  return {
    listeners: [{ name: 'web', protocol: 'http', address: listen, service: 'default' }],
    services: {
      default: {
        ...(algorithm === undefined ? {} : { algorithm: algorithm as 'round-robin' }),
        endpoints: to.map((url) => ({ url })),
      },
    },
  };
}
