import { constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { h2RequestHeaders, rawHeaderList } from './h2-headers.js';

/**
 * Error codes an HTTP/2 upstream failure carries, in undici's vocabulary where one exists so the proxy maps both
 * clients' failures the same way (connect failure 502, timeout 504, reset 502).
 */
export const h2ErrorCodes = {
  /** The instance refused the stream (RST_STREAM REFUSED_STREAM, or above a GOAWAY's last stream): nothing was processed. */
  refused: 'SY_H2_REFUSED_STREAM',
  headersTimeout: 'UND_ERR_HEADERS_TIMEOUT',
  bodyTimeout: 'UND_ERR_BODY_TIMEOUT',
  /** The stream or session ended before the response did (reset, GOAWAY with an error, connection lost). */
  reset: 'UND_ERR_SOCKET',
  connectTimeout: 'UND_ERR_CONNECT_TIMEOUT',
  /** The request was aborted by its handler (the client left). */
  aborted: 'UND_ERR_ABORTED',
} as const;

/** An Error with a `code`, as node and undici give them. */
export function codedError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/** What an exchange tells its pool. */
export interface StreamOwner {
  /** The stream ended (any way): its slot on the session is free. Called exactly once. */
  streamEnded(): void;
  /** The instance refused the stream before processing it: the pool may send the request again elsewhere. */
  refused(exchange: H2StreamExchange): boolean;
}

/**
 * One request on one HTTP/2 stream to an instance, driving an undici-style dispatch handler (`onConnect`, `onHeaders`
 * for each 1xx and the final head, `onData` with back-pressure, `onComplete` with the trailers, `onError`), so the
 * proxy's exchange speaks to HTTP/1.1 pools and HTTP/2 sessions alike. A stream that closes without a clean end of
 * the response is always an error, never a complete response (RFC 9113 §8.1: a truncated message is malformed).
 */
export class H2StreamExchange {
  readonly options: Dispatcher.DispatchOptions;
  readonly handler: Dispatcher.DispatchHandler;
  readonly #scheme: 'http' | 'https';
  readonly #authority: string;
  #stream: ClientHttp2Stream | undefined;
  #owner: StreamOwner | undefined;
  #timer: NodeJS.Timeout | undefined;
  #trailers: Buffer[] | null = null;
  #responded = false;
  #ended = false;
  #settled = false;
  /** A streamed request body was read from: it cannot be sent again. */
  #bodyTouched = false;

  constructor(
    options: Dispatcher.DispatchOptions,
    handler: Dispatcher.DispatchHandler,
    scheme: 'http' | 'https',
    authority: string,
  ) {
    this.options = options;
    this.handler = handler;
    this.#scheme = scheme;
    this.#authority = authority;
    handler.onConnect?.(this.#abort);
    if (options.headersTimeout) this.#arm(options.headersTimeout, 'headers', h2ErrorCodes.headersTimeout);
  }

  /** True when the request can go again as it is (no body, a buffered one, or a stream nobody read yet). */
  get replayable(): boolean {
    return !this.#bodyTouched && !this.#settled;
  }

  /** True once the handler learnt the outcome (or the request was aborted while queued). */
  get settled(): boolean {
    return this.#settled;
  }

  /** Opens the stream on `session` and sends the request. */
  start(session: ClientHttp2Session, owner: StreamOwner): void {
    if (this.#settled) {
      owner.streamEnded();
      return;
    }
    this.#owner = owner;
    const body = this.options.body ?? null;
    const headers = h2RequestHeaders(
      this.options.method,
      this.options.path,
      this.#scheme,
      this.#authority,
      Array.isArray(this.options.headers) ? this.options.headers : [],
    );
    let stream: ClientHttp2Stream;
    try {
      stream = session.request(headers, { endStream: body === null });
    } catch (error) {
      this.#owner = undefined;
      owner.streamEnded();
      this.fail(error as Error);
      return;
    }
    this.#stream = stream;
    stream.on('error', () => undefined); // the outcome is read in 'close' (rstCode)
    stream.on('headers', this.#onInformational);
    stream.once('response', this.#onResponse);
    stream.on('data', this.#onData);
    stream.once('trailers', (trailers: IncomingHttpHeaders) => (this.#trailers = rawHeaderList(trailers)));
    stream.once('end', () => (this.#ended = true));
    stream.once('close', this.#onClose);
    if (body !== null) this.#send(stream, body);
  }

  /** Ends the exchange with `error` (once); the stream, if any, is cancelled. */
  fail(error: Error): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#clearTimer();
    const stream = this.#stream;
    if (stream !== undefined && !stream.closed) stream.close(constants.NGHTTP2_CANCEL);
    this.handler.onError?.(error);
  }

  #send(stream: ClientHttp2Stream, body: NonNullable<Dispatcher.DispatchOptions['body']>): void {
    if (typeof body === 'string' || body instanceof Uint8Array) {
      stream.end(body);
      return;
    }
    if (typeof (body as Readable).on !== 'function') {
      this.fail(codedError('unsupported request body', 'UND_ERR_NOT_SUPPORTED'));
      return;
    }
    this.#pump(body as Readable, stream);
  }

  /**
   * Streams the request body with back-pressure both ways. Not `stream.pipeline`: the source is the client's request
   * (or a stream over it), and a response that ends first (a gRPC server may answer before the client's stream ends)
   * must not destroy the client's side, which still gets the response.
   */
  #pump(source: Readable, stream: ClientHttp2Stream): void {
    const onData = (chunk: Buffer): void => {
      this.#bodyTouched = true;
      if (!stream.write(chunk)) source.pause();
    };
    const onDrain = (): void => void source.resume();
    const onEnd = (): void => void stream.end();
    const onError = (error: Error): void => this.fail(error);
    const detach = (): void => {
      source.off('data', onData);
      source.off('end', onEnd);
      source.off('error', onError);
      stream.off('drain', onDrain);
      if (!source.readableEnded) source.resume(); // the rest is read and dropped, so the client side can finish
    };
    source.on('data', onData);
    source.once('end', onEnd);
    source.once('error', onError);
    stream.on('drain', onDrain);
    stream.once('close', detach);
    if (source.readableEnded) stream.end();
    else source.resume();
  }

  readonly #onInformational = (headers: IncomingHttpHeaders): void => {
    const status = Number(headers[':status']);
    // 1xx heads before the final one (RFC 9110 §15.2); the trailers' HEADERS also fire 'headers' after 'response'.
    if (this.#responded || !(status >= 100 && status < 200) || this.#settled) return;
    this.handler.onHeaders?.(status, rawHeaderList(headers), noop, '');
  };

  readonly #onResponse = (headers: IncomingHttpHeaders): void => {
    if (this.#settled) return;
    this.#responded = true;
    this.#clearTimer();
    const stream = this.#stream!;
    const keepGoing = this.handler.onHeaders?.(Number(headers[':status']), rawHeaderList(headers), this.#resume, '');
    if (keepGoing === false) stream.pause();
    if (this.options.bodyTimeout) this.#arm(this.options.bodyTimeout, 'body', h2ErrorCodes.bodyTimeout);
  };

  readonly #onData = (chunk: Buffer): void => {
    if (this.#settled) return;
    if (this.options.bodyTimeout) this.#timer?.refresh();
    if (this.handler.onData?.(chunk) === false) this.#stream?.pause();
  };

  readonly #resume = (): void => {
    if (!this.#settled) this.#stream?.resume();
  };

  readonly #onClose = (): void => {
    const owner = this.#owner;
    this.#owner = undefined;
    owner?.streamEnded();
    if (this.#settled) return;
    const stream = this.#stream!;
    const code = stream.rstCode ?? constants.NGHTTP2_NO_ERROR;
    if (this.#responded && this.#ended && code === constants.NGHTTP2_NO_ERROR) {
      this.#settled = true;
      this.#clearTimer();
      // undici declares string[] but hands its handlers Buffer pairs (as onHeaders): Buffer pairs here too.
      this.handler.onComplete?.(this.#trailers as unknown as string[] | null);
      return;
    }
    if (!this.#responded && code === constants.NGHTTP2_REFUSED_STREAM) {
      this.#stream = undefined;
      if (owner?.refused(this)) return;
      this.fail(codedError('the instance refused the stream (REFUSED_STREAM)', h2ErrorCodes.refused));
      return;
    }
    const what = this.#responded ? 'the response body was cut' : 'the stream closed before a response';
    this.fail(codedError(`${what} (HTTP/2 error code ${code})`, h2ErrorCodes.reset));
  };

  readonly #abort = (error?: Error): void => {
    this.fail(error ?? codedError('request aborted', h2ErrorCodes.aborted));
  };

  #arm(ms: number, what: string, code: string): void {
    this.#clearTimer();
    this.#timer = setTimeout(() => this.fail(codedError(`no ${what} from the instance in ${ms} ms`, code)), ms);
    this.#timer.unref();
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

function noop(): void {}
