/**
 * Reading an upstream's answer to an upgrade request off a raw socket: the response head (status line and header
 * block, up to the blank line) and, for a refused handshake, where its body ends, so that a refusal from an instance
 * that keeps its connection alive is relayed whole and then closed instead of waiting for the instance to hang up.
 */

/** Longest upstream response head accepted (undici's default for ordinary responses is the same). */
export const maxResponseHeadBytes = 16 * 1024;

/** How a response's body is delimited (RFC 9112 §6.3). */
export type BodyFraming =
  | { readonly kind: 'none' }
  | { readonly kind: 'length'; readonly bytes: number }
  | { readonly kind: 'chunked' }
  | { readonly kind: 'close' };

/** One parsed response head. */
export interface ResponseHead {
  readonly status: number;
  /** The head's bytes, status line to blank line included, exactly as the upstream sent them. */
  readonly bytes: Buffer;
  readonly framing: BodyFraming;
}

const crlfcrlf = Buffer.from('\r\n\r\n', 'latin1');
const statusLine = /^HTTP\/1\.[01] (\d{3})(?: |\r?$)/;

/**
 * Accumulates bytes until a whole response head has arrived. `push` returns the head and the bytes after it once the
 * blank line is in, undefined while more is needed, or an Error for an oversized or malformed head.
 */
export class ResponseHeadReader {
  #buffered: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): { readonly head: ResponseHead; readonly rest: Buffer } | undefined | Error {
    const searchFrom = Math.max(0, this.#buffered.length - 3);
    this.#buffered = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    const end = this.#buffered.indexOf(crlfcrlf, searchFrom);
    if (end === -1) {
      return this.#buffered.length > maxResponseHeadBytes ? new Error('upstream response head too large') : undefined;
    }
    if (end + 4 > maxResponseHeadBytes) return new Error('upstream response head too large');
    const bytes = this.#buffered.subarray(0, end + 4);
    const rest = this.#buffered.subarray(end + 4);
    this.#buffered = Buffer.alloc(0);
    const head = parseHead(bytes);
    return head instanceof Error ? head : { head, rest };
  }
}

function parseHead(bytes: Buffer): ResponseHead | Error {
  const lines = bytes.toString('latin1', 0, bytes.length - 4).split('\r\n');
  const match = statusLine.exec(lines[0] ?? '');
  if (match === null) return new Error('malformed upstream status line');
  const status = Number(match[1]);
  let length: number | undefined;
  let chunked = false;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon <= 0) return new Error('malformed upstream header line');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-length') {
      if (!/^\d{1,15}$/.test(value) || (length !== undefined && length !== Number(value))) {
        return new Error('invalid upstream Content-Length');
      }
      length = Number(value);
    } else if (name === 'transfer-encoding') {
      chunked = value.toLowerCase().split(',').pop()?.trim() === 'chunked';
    }
  }
  return { status, bytes, framing: framingOf(status, chunked, length) };
}

function framingOf(status: number, chunked: boolean, length: number | undefined): BodyFraming {
  if (status < 200 || status === 204 || status === 304) return { kind: 'none' };
  // Transfer-Encoding wins over Content-Length (RFC 9112 §6.3 rule 3).
  if (chunked) return { kind: 'chunked' };
  if (length !== undefined) return length === 0 ? { kind: 'none' } : { kind: 'length', bytes: length };
  return { kind: 'close' };
}

/** Longest chunk-size or trailer line accepted. */
const maxLineBytes = 8 * 1024;

/**
 * Follows a body's framing through the chunks that carry it. `feed` returns how many bytes of `chunk` belong to the
 * body; `done` turns true once the body is complete (the rest of the chunk, if any, is not part of it), `invalid` when
 * chunked framing is broken (the relay then closes the client connection: never a fake end).
 */
export class BodyEnd {
  done: boolean;
  invalid = false;
  /** The body has no length: it ends when the connection does. */
  readonly untilClose: boolean;
  readonly #chunked: boolean;
  #remaining: number;
  #state: 'size' | 'data' | 'data-end' | 'trailer' = 'size';
  #line = '';

  constructor(framing: BodyFraming) {
    this.#chunked = framing.kind === 'chunked';
    this.#remaining = framing.kind === 'length' ? framing.bytes : 0;
    this.done = framing.kind === 'none';
    this.untilClose = framing.kind === 'close';
  }

  feed(chunk: Buffer): number {
    if (this.done) return 0;
    if (!this.#chunked) {
      if (this.untilClose) return chunk.length;
      const taken = Math.min(this.#remaining, chunk.length);
      this.#remaining -= taken;
      this.done = this.#remaining === 0;
      return taken;
    }
    let i = 0;
    while (i < chunk.length && !this.done && !this.invalid) {
      if (this.#state === 'data') {
        const taken = Math.min(this.#remaining, chunk.length - i);
        i += taken;
        this.#remaining -= taken;
        if (this.#remaining === 0) this.#state = 'data-end';
        continue;
      }
      const newline = chunk.indexOf(10, i);
      this.#line += chunk.toString('latin1', i, newline === -1 ? chunk.length : newline);
      if (this.#line.length > maxLineBytes) this.invalid = true;
      if (newline === -1) return chunk.length;
      i = newline + 1;
      this.#onLine(this.#line.endsWith('\r') ? this.#line.slice(0, -1) : this.#line);
      this.#line = '';
    }
    return i;
  }

  #onLine(line: string): void {
    if (this.#state === 'size') {
      const size = line.split(';', 1)[0]!.trim();
      if (!/^[0-9a-fA-F]{1,12}$/.test(size)) {
        this.invalid = true;
        return;
      }
      this.#remaining = parseInt(size, 16);
      this.#state = this.#remaining === 0 ? 'trailer' : 'data';
    } else if (this.#state === 'data-end') {
      if (line !== '') this.invalid = true;
      this.#state = 'size';
    } else if (line === '') {
      this.done = true; // the blank line after the trailer section
    }
  }
}
