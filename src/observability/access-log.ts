import type { AccessLogConfig } from '../config/schema.js';
import type { AccessEntry } from '../core/access-entry.js';
import { SwitchyardError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { accessLineFormat, needsRequestHeaders, type AccessLineFormat } from './access-log-format.js';
import { LineWriter } from './line-writer.js';

/** At most one warning about dropped lines or write errors this often, with the counts since the last one. */
const warnIntervalMs = 10_000;

/** What SIGUSR1 reopens (`reopenAccessLogs`): every access log open in this process, and relays to other processes. */
const openLogs = new Set<{ reopen(): void }>();

/**
 * Reopens the file of every access log in this process (SIGUSR1, after logrotate moved the files away): lines from
 * then on go to a new file of the configured name. Logs on stdout or stderr are not affected.
 */
export function reopenAccessLogs(): void {
  for (const log of openLogs) log.reopen();
}

/**
 * Makes `reopenAccessLogs` call `target` too (the cluster primary passes the signal on to its workers, whose data
 * planes write the lines). Returns the function that undoes it.
 */
export function relayLogReopen(target: { reopen(): void }): () => void {
  openLogs.add(target);
  return () => openLogs.delete(target);
}

/**
 * The access log of one data plane. Its configuration can change while requests hold it (a reload): they always write
 * with the configuration in force. Writing a line costs a sampling check, the formatting and a string append; the
 * disk is written later, in batches, by `LineWriter`, which drops lines (counted, and warned about) rather than let a
 * slow disk hold requests up or fill memory.
 */
export class AccessLog {
  readonly #log: Logger;
  readonly #random: () => number;
  /** The configuration in force (JSON), and its destination (path and buffer bound). */
  #signature = '';
  #destination = '';
  #writer: LineWriter | undefined;
  /** Writers replaced by a reload, still writing what they had. */
  readonly #retiring = new Set<Promise<void>>();
  #format: AccessLineFormat = () => '';
  #sample = 1;
  #requestHeaders = false;
  /** Lines dropped since the start, and since the last warning. */
  #dropped = 0;
  #droppedUnreported = 0;
  #errorsUnreported = 0;
  #warnedAt = 0;

  constructor(log: Logger, random: () => number = Math.random) {
    this.#log = log;
    this.#random = random;
  }

  /** True while lines are written. */
  get enabled(): boolean {
    return this.#writer !== undefined;
  }

  /** True when lines show request headers (User-Agent, Referer), so the data plane must read them. */
  get wantsRequestHeaders(): boolean {
    return this.#requestHeaders;
  }

  /** Lines dropped since the start because the destination did not keep up. */
  get dropped(): number {
    return this.#dropped;
  }

  /**
   * Applies a configuration (undefined or `enabled: false` turns the log off). An unchanged destination keeps its open
   * file; a new one is opened before the old one is closed, so a path that cannot be opened throws a `SwitchyardError`
   * and changes nothing. Returns the log itself when it is on, else undefined.
   */
  configure(config: AccessLogConfig | undefined): AccessLog | undefined {
    const on = config?.enabled === true ? config : undefined;
    const signature = on === undefined ? '' : JSON.stringify(on);
    if (signature === this.#signature) return this.#writer === undefined ? undefined : this;
    const previous = this.#writer;
    const destination = on === undefined ? '' : `${on.path}\u0000${on.maxBufferBytes}`;
    const keep = previous !== undefined && destination === this.#destination;
    const writer = on === undefined ? undefined : keep ? previous : this.#open(on);
    this.#signature = signature;
    this.#destination = destination;
    this.#writer = writer;
    if (on === undefined) openLogs.delete(this);
    else {
      this.#format = accessLineFormat(on);
      this.#sample = on.sample;
      this.#requestHeaders = needsRequestHeaders(on);
      openLogs.add(this);
    }
    if (previous !== undefined && previous !== writer) this.#retire(previous);
    return writer === undefined ? undefined : this;
  }

  /**
   * Writes one line, unless sampling leaves it out: a line with a status of 500 or more or any flag is always
   * written; others with probability `sample`.
   */
  write(entry: AccessEntry): void {
    const writer = this.#writer;
    if (writer === undefined) return;
    if (this.#sample < 1 && entry.status < 500 && entry.flags === '' && this.#random() >= this.#sample) return;
    writer.write(this.#format(entry));
  }

  /** Opens the file again by its name (SIGUSR1). */
  reopen(): void {
    this.#writer?.reopen();
  }

  /** Writes what is queued and closes the destination (and any replaced one still closing); later lines are dropped. */
  async close(): Promise<void> {
    const writer = this.#writer;
    this.#writer = undefined;
    this.#signature = '';
    this.#destination = '';
    openLogs.delete(this);
    if (writer !== undefined) this.#retire(writer);
    await Promise.all(this.#retiring);
  }

  /** Closes a writer that is no longer in use, in the background. */
  #retire(writer: LineWriter): void {
    const closed = writer.close().finally(() => this.#retiring.delete(closed));
    this.#retiring.add(closed);
  }

  #open(config: AccessLogConfig): LineWriter {
    try {
      return new LineWriter({
        path: config.path,
        maxBufferBytes: config.maxBufferBytes,
        onDrop: (lines) => {
          this.#dropped += lines;
          this.#droppedUnreported += lines;
          this.#warn();
        },
        onError: (error) => {
          this.#errorsUnreported++;
          this.#warn(error);
        },
      });
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      throw new SwitchyardError(`access log: cannot write to ${config.path} (${reason})`);
    }
  }

  #warn(error?: Error): void {
    const now = Date.now();
    if (now - this.#warnedAt < warnIntervalMs) return;
    this.#warnedAt = now;
    this.#log.warn(
      {
        dropped: this.#droppedUnreported,
        droppedTotal: this.#dropped,
        writeErrors: this.#errorsUnreported,
        ...(error === undefined ? {} : { err: error }),
      },
      'access log lines dropped or not written: the destination does not keep up or fails',
    );
    this.#droppedUnreported = 0;
    this.#errorsUnreported = 0;
  }
}
