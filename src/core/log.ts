import { pino, type Logger } from 'pino';

export type { Logger };

/** How log lines are written: JSON lines (the default, for machines) or coloured lines for people. */
export type LogFormat = 'json' | 'pretty';

export interface LoggerOptions {
  /** pino level; defaults to `SWITCHYARD_LOG_LEVEL` or `info`. */
  readonly level?: string;
  readonly format?: LogFormat;
  /** Where lines go (defaults to stdout); tests pass a stream to read them. */
  readonly destination?: NodeJS.WritableStream;
}

/** The process log (state changes, not per-request lines: those go to the access log). */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env['SWITCHYARD_LOG_LEVEL'] ?? 'info';
  const base = { name: 'switchyard' };
  if (options.format === 'pretty') {
    return pino({ level, base, transport: { target: 'pino-pretty', options: { colorize: true } } });
  }
  return options.destination === undefined ? pino({ level, base }) : pino({ level, base }, options.destination);
}

/** A logger that writes nothing: the default for the library API when the caller passes none. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
