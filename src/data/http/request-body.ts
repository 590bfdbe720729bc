import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { BodyTooLargeError } from './route-actions.js';

/**
 * How long a chunked request body is waited for before its head goes upstream anyway. Waiting lets a body whose
 * framing breaks (a bad chunk after good ones, a smuggled request in the trailers) be refused before the instance
 * sees anything; the cap keeps a client that streams slowly (or waits for the response between chunks) working.
 */
export const CHUNKED_PREFETCH_MS = 1_000;

/** Reads a body of a known `length` (Node's parser enforces Content-Length) into one buffer. */
export function bufferBody(req: IncomingMessage, length: number, done: (body: Buffer) => void): void {
  const body = Buffer.allocUnsafe(length);
  let received = 0;
  req.on('data', (chunk: Buffer) => {
    received += chunk.copy(body, received);
  });
  req.on('end', () => done(received === length ? body : body.subarray(0, received)));
}

/** A chunked body read ahead: whole (replayable like a buffered one), or its start plus the rest as a stream. */
export type PrefetchedBody = { readonly whole: Buffer } | { readonly stream: Readable };

/**
 * Reads a chunked (length-less) request body ahead of dispatch: up to `bufferBytes`, for at most `waitMs`. A body
 * that ends within both is returned whole; otherwise what was read and the rest are handed on as one stream, counted
 * against `maxBytes` when the route sets one. Rejects with `BodyTooLargeError` when the body is over `maxBytes`
 * already, and with the stream's error when the client's framing breaks or it goes away (the listener answers 400).
 */
export async function prefetchBody(
  req: IncomingMessage,
  bufferBytes: number,
  waitMs: number,
  maxBytes?: number,
): Promise<PrefetchedBody> {
  const iterator = req.iterator({ destroyOnReturn: false })[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const next = (): Promise<IteratorResult<Buffer>> => {
    const promise = iterator.next();
    // A read left pending when nobody consumes the rest (no endpoint, client gone) must not become unhandled.
    promise.catch(() => undefined);
    return promise;
  };
  const chunks: Buffer[] = [];
  let size = 0;
  let pending = next();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), waitMs);
  });
  try {
    for (;;) {
      const result = await Promise.race([pending, timedOut]);
      if (result === undefined) break;
      if (result.done === true) return { whole: Buffer.concat(chunks, size) };
      chunks.push(result.value);
      size += result.value.length;
      if (maxBytes !== undefined && size > maxBytes) throw new BodyTooLargeError(maxBytes);
      pending = next();
      if (size > bufferBytes) break;
    }
  } finally {
    clearTimeout(timer);
  }
  async function* rest(): AsyncGenerator<Buffer> {
    let received = size;
    yield* chunks;
    chunks.length = 0;
    for (;;) {
      const result = await pending;
      if (result.done === true) return;
      received += result.value.length;
      if (maxBytes !== undefined && received > maxBytes) throw new BodyTooLargeError(maxBytes);
      yield result.value;
      pending = next();
    }
  }
  return { stream: Readable.from(rest(), { objectMode: false }) };
}
