import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino } from 'pino';

type Destination = ReturnType<typeof pino.destination>;

/** A batch goes to the destination when it reaches this size, or `flushIntervalMs` after its first line. */
const batchBytes = 65_536;
const flushIntervalMs = 100;
/** How long `close()` waits for the destination to take what is left before giving up on it. */
const closeTimeoutMs = 5_000;

export interface LineWriterOptions {
  /** `stdout`, `stderr`, or a file path (appended to). */
  readonly path: string;
  /** Bytes that may wait for the destination; lines beyond are dropped. */
  readonly maxBufferBytes: number;
  /** Lines dropped because the destination did not keep up. */
  readonly onDrop: (lines: number) => void;
  readonly onError: (error: Error) => void;
}

/**
 * Writes lines off the request path: `write` appends to an in-memory batch (no syscall, no promise), a timer hands the
 * batch to an asynchronous pino destination (sonic-boom: `fs.write` on libuv's thread pool, one write in flight), and
 * when the destination falls more than `maxBufferBytes` behind, whole batches are dropped and counted instead of
 * growing memory or making anyone wait. A file is opened once synchronously first, so a bad path fails at start.
 */
export class LineWriter {
  readonly #dest: Destination;
  readonly #file: boolean;
  #batch = '';
  #batchLines = 0;
  /** Lines of the batch being handed over, for the destination's synchronous `drop` event. */
  #handing = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed: Promise<void> | undefined;

  constructor(options: LineWriterOptions) {
    const { path, maxBufferBytes } = options;
    this.#file = path !== 'stdout' && path !== 'stderr';
    if (this.#file) {
      // Fails now, with the reason (EACCES, EISDIR …), rather than later on the destination's 'error' event.
      mkdirSync(dirname(path), { recursive: true });
      closeSync(openSync(path, 'a'));
    }
    const dest = this.#file ? path : path === 'stderr' ? 2 : 1;
    this.#dest = pino.destination({ dest, sync: false, mkdir: true, append: true, maxLength: maxBufferBytes });
    this.#dest.on('drop', () => options.onDrop(this.#handing));
    this.#dest.on('error', options.onError);
  }

  /** Queues one line (with its newline). */
  write(line: string): void {
    if (this.#closed !== undefined) return;
    this.#batch += line;
    this.#batchLines++;
    if (this.#batch.length >= batchBytes) this.flush();
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(this.flush, flushIntervalMs);
      this.#timer.unref();
    }
  }

  /** Hands the batch to the destination now. */
  readonly flush = (): void => {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#batchLines === 0) return;
    const batch = this.#batch;
    this.#handing = this.#batchLines;
    this.#batch = '';
    this.#batchLines = 0;
    this.#dest.write(batch);
    this.#handing = 0;
  };

  /** Opens the file again by its name (after logrotate moved it); stdout and stderr stay as they are. */
  reopen(): void {
    if (!this.#file || this.#closed !== undefined) return;
    // Lines written before the signal belong in the file that was rotated away.
    this.flush();
    this.#dest.reopen();
  }

  /** Writes what is queued, then closes the file; resolves when done (or after 5 s if the destination hangs). */
  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      this.flush();
      const dest = this.#dest;
      const timer = setTimeout(() => {
        dest.destroy();
        resolve();
      }, closeTimeoutMs);
      timer.unref();
      dest.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      dest.end();
    });
    return this.#closed;
  }
}
