import type { SecureClientSessionOptions } from 'node:http2';
import type { Dispatcher } from 'undici';
import { H2Connection, type H2ConnectionOptions } from './h2-connection.js';
import { H2StreamExchange, type StreamOwner } from './h2-stream-exchange.js';

/** How an endpoint's HTTP/2 pool connects and how much it may open. */
export interface Http2PoolOptions {
  readonly connectTimeoutMs: number;
  /** Sessions with no stream for this long are closed. */
  readonly idleTimeoutMs: number;
  /** Most sessions (connections) to the endpoint; streams are counted against each session's own limit. */
  readonly maxSessions: number;
  /** PING interval of an open session (default 30 s). */
  readonly pingIntervalMs?: number;
  /** TLS for `https://` endpoints (CA, servername, client certificate). `ALPNProtocols` defaults to `['h2']`. */
  readonly tls?: SecureClientSessionOptions;
  /**
   * With ALPN offering `http/1.1` too (`upstreamProtocol: auto`): the dispatcher requests go to once the instance
   * picked HTTP/1.1. Without it, an instance that does not pick h2 fails the request as a connect failure.
   */
  readonly http1Fallback?: () => Dispatcher;
}

/** Times a refused stream is sent again on another session of the same endpoint before the caller learns of it. */
const maxRefusedReplays = 2;

/**
 * The HTTP/2 connections to one endpoint, behind undici's `dispatch(options, handler)` so the proxy uses it like an
 * HTTP/1.1 `Pool`. A request takes a stream on the first session with room under the instance's
 * `SETTINGS_MAX_CONCURRENT_STREAMS`; when every session is full a new one opens (up to `maxSessions`), else it waits
 * here for a stream to end. The bounded queue and its timeout live in front of the pool (the endpoint gate); the
 * response-head timeout runs from `dispatch`, so no request waits here for longer than that.
 *
 * GOAWAY: that session takes no new stream; the streams the instance did not take come back REFUSED_STREAM and are sent
 * again on another session, as is a stream refused outright, when its body can be replayed (RFC 9113 §8.7: neither was
 * processed). Otherwise the caller gets an error with code `SY_H2_REFUSED_STREAM` and may try another endpoint.
 */
export class Http2Pool {
  readonly #connection: H2ConnectionOptions;
  readonly #maxSessions: number;
  readonly #fallbackFactory: (() => Dispatcher) | undefined;
  readonly #scheme: 'http' | 'https';
  readonly #authority: string;
  readonly #connections = new Set<H2Connection>();
  /** Sessions still connecting, with the requests promised to each. */
  readonly #connecting = new Map<H2Connection, H2StreamExchange[]>();
  /** Requests waiting for a stream. */
  #waiting: H2StreamExchange[] = [];
  readonly #replays = new WeakMap<H2StreamExchange, number>();
  #fallback: Dispatcher | undefined;
  #closed = false;

  constructor(origin: string, options: Http2PoolOptions) {
    const url = new URL(origin);
    this.#scheme = url.protocol === 'https:' ? 'https' : 'http';
    this.#authority = url.host;
    this.#maxSessions = options.maxSessions;
    this.#fallbackFactory = options.http1Fallback;
    this.#connection = {
      origin: url,
      ...(this.#scheme === 'https' ? { tls: { ALPNProtocols: ['h2'], ...options.tls } } : {}),
      connectTimeoutMs: options.connectTimeoutMs,
      idleTimeoutMs: options.idleTimeoutMs,
      pingIntervalMs: options.pingIntervalMs ?? 30_000,
    };
  }

  /** Streams open (or promised to a connecting session) across the sessions. */
  get streams(): number {
    let total = 0;
    for (const connection of this.#connections) total += connection.active;
    return total;
  }

  /** Sessions open or opening. */
  get sessions(): number {
    return this.#connections.size;
  }

  /** True once the endpoint chose HTTP/1.1 by ALPN and requests go to the fallback pool. */
  get speaksHttp1(): boolean {
    return this.#fallback !== undefined;
  }

  /** undici's dispatch contract: the handler learns everything; the return value is always true (no back-pressure). */
  dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    if (this.#fallback !== undefined) return this.#fallback.dispatch(options, handler);
    const exchange = new H2StreamExchange(options, handler, this.#scheme, this.#authority);
    if (this.#closed) {
      exchange.fail(Object.assign(new Error('the pool is closed'), { code: 'UND_ERR_CLOSED' }));
      return true;
    }
    this.#place(exchange);
    return true;
  }

  /** Graceful: GOAWAY on every session, open streams finish; queued requests fail as closed. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#failWaiting('the pool is closed');
    for (const promised of this.#connecting.values()) this.#failAll(promised, 'the pool is closed');
    for (const connection of this.#connections) connection.close();
    await this.#fallback?.close();
  }

  /** Immediate: every stream is cut. */
  async destroy(): Promise<void> {
    this.#closed = true;
    this.#failWaiting('the pool was destroyed');
    for (const promised of this.#connecting.values()) this.#failAll(promised, 'the pool was destroyed');
    for (const connection of this.#connections) connection.destroy();
    await this.#fallback?.destroy();
  }

  /** Starts `exchange` where there is room (never on `avoid`, the session that just refused it), or queues it. */
  #place(exchange: H2StreamExchange, avoid?: H2Connection): void {
    for (const connection of this.#connections) {
      if (connection !== avoid && connection.hasRoom) return this.#start(exchange, connection);
    }
    // A session still connecting takes requests up to its (initial) stream limit, so a burst opens one connection.
    for (const [connection, promised] of this.#connecting) {
      if (connection !== avoid && connection.active < connection.maxStreams) {
        connection.take();
        promised.push(exchange);
        return;
      }
    }
    if (this.#connections.size < this.#maxSessions) return this.#open(exchange);
    this.#waiting.push(exchange);
  }

  #start(exchange: H2StreamExchange, connection: H2Connection): void {
    connection.take();
    const owner: StreamOwner = {
      streamEnded: () => {
        connection.give();
        this.#drain();
      },
      refused: (refused) => this.#replay(refused, connection),
    };
    exchange.start(connection.session!, owner);
  }

  /** Opens a session for `first` (and the requests that come while it connects). */
  #open(first: H2StreamExchange): void {
    const connection = new H2Connection(this.#connection, this.#gone);
    const promised = [first];
    this.#connections.add(connection);
    this.#connecting.set(connection, promised);
    connection.take();
    void connection.connect().then((outcome) => {
      this.#connecting.delete(connection);
      for (let i = 0; i < promised.length; i++) connection.give();
      if (outcome.kind === 'h2') {
        for (const exchange of promised) {
          if (exchange.settled) continue;
          if (connection.hasRoom) this.#start(exchange, connection);
          else this.#place(exchange);
        }
        this.#drain();
        return;
      }
      if (outcome.kind === 'http/1.1' && this.#fallbackFactory !== undefined) {
        this.#fallback ??= this.#fallbackFactory();
        for (const exchange of [...promised, ...this.#waiting.splice(0)]) {
          if (!exchange.settled) this.#fallback.dispatch(exchange.options, exchange.handler);
        }
        return;
      }
      const error =
        outcome.kind === 'error'
          ? outcome.error
          : Object.assign(new Error('the instance did not choose h2 by ALPN'), { code: 'SY_H2_ALPN_REFUSED' });
      for (const exchange of promised) exchange.fail(error);
      // Requests queued behind a session that never came up fail the same way (they would wait for nothing).
      if (this.#connections.size === 0) for (const exchange of this.#waiting.splice(0)) exchange.fail(error);
    });
  }

  /** A stream the instance refused goes again on another session, a few times at most, if its body allows. */
  #replay(exchange: H2StreamExchange, refusedBy: H2Connection): boolean {
    const count = this.#replays.get(exchange) ?? 0;
    if (this.#closed || count >= maxRefusedReplays || !exchange.replayable) return false;
    this.#replays.set(exchange, count + 1);
    this.#place(exchange, refusedBy);
    return true;
  }

  /** Waiting requests take the room that freed up. */
  #drain(): void {
    while (this.#waiting.length > 0) {
      const next = this.#waiting[0]!;
      if (next.settled) {
        this.#waiting.shift();
        continue;
      }
      let room: H2Connection | undefined;
      for (const connection of this.#connections) if (connection.hasRoom) room = connection;
      if (room === undefined && this.#connections.size >= this.#maxSessions) return;
      this.#waiting.shift();
      if (room === undefined) this.#open(next);
      else this.#start(next, room);
    }
  }

  readonly #gone = (connection: H2Connection): void => {
    this.#connections.delete(connection);
    if (!this.#closed) this.#drain();
  };

  #failWaiting(message: string): void {
    this.#failAll(this.#waiting.splice(0), message);
  }

  #failAll(exchanges: readonly H2StreamExchange[], message: string): void {
    for (const exchange of exchanges) exchange.fail(Object.assign(new Error(message), { code: 'UND_ERR_CLOSED' }));
  }
}
