import {
  connect as h2connect,
  type ClientHttp2Session,
  type SecureClientSessionOptions,
  type Settings,
} from 'node:http2';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Duplex } from 'node:stream';
import { codedError, h2ErrorCodes } from './h2-stream-exchange.js';

/** Until the instance's SETTINGS arrive, no more streams than this are opened (RFC 9113 §6.5.2 leaves it open). */
export const initialStreamLimit = 100;

/** How one connection to an instance is made and kept. */
export interface H2ConnectionOptions {
  /** `http://host:port` (h2c with prior knowledge) or `https://host:port` (TLS). */
  readonly origin: URL;
  /** TLS toward `https://` instances: trust, name, client certificate; `ALPNProtocols` chooses h2 or both. */
  readonly tls?: SecureClientSessionOptions;
  readonly connectTimeoutMs: number;
  /** A session with no stream for this long is closed (GOAWAY). */
  readonly idleTimeoutMs: number;
  /** A PING is sent this often while the session is open; one unanswered for as long again ends the session. */
  readonly pingIntervalMs: number;
}

/** How the connection attempt ended. */
export type ConnectOutcome =
  { readonly kind: 'h2' } | { readonly kind: 'http/1.1' } | { readonly kind: 'error'; readonly error: Error };

/**
 * One HTTP/2 session to an instance, with its stream count against the instance's `SETTINGS_MAX_CONCURRENT_STREAMS`,
 * an idle close, PING liveness and GOAWAY (no new streams from then on; streams the instance did not take are
 * refused and sent again by the pool).
 */
export class H2Connection {
  readonly #options: H2ConnectionOptions;
  #session: ClientHttp2Session | undefined;
  /** Streams open, plus those promised while connecting. */
  active = 0;
  /** The instance's SETTINGS_MAX_CONCURRENT_STREAMS (until known: `initialStreamLimit`). */
  maxStreams = initialStreamLimit;
  /** Connected and not going away: new streams may start here. */
  usable = false;
  /** The session ended (error, GOAWAY, idle close) or never came up. */
  gone = false;
  #idle: NodeJS.Timeout | undefined;
  #ping: NodeJS.Timeout | undefined;
  #pingOutstanding = false;
  readonly #onGone: (connection: H2Connection) => void;

  constructor(options: H2ConnectionOptions, onGone: (connection: H2Connection) => void) {
    this.#options = options;
    this.#onGone = onGone;
  }

  get session(): ClientHttp2Session | undefined {
    return this.#session;
  }

  /** True when another stream may start now. */
  get hasRoom(): boolean {
    return this.usable && this.active < this.maxStreams;
  }

  /**
   * Opens the connection. With TLS and ALPN offering both, an instance that picks `http/1.1` gets no session: the
   * outcome says so and the socket is closed.
   */
  connect(): Promise<ConnectOutcome> {
    return new Promise((resolve) => {
      const { origin, tls, connectTimeoutMs } = this.#options;
      const host = origin.hostname.startsWith('[') ? origin.hostname.slice(1, -1) : origin.hostname;
      const port = Number(origin.port || (origin.protocol === 'https:' ? 443 : 80));
      let socket: Duplex;
      let settled = false;
      const done = (outcome: ConnectOutcome): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (outcome.kind !== 'h2') {
          this.#session?.destroy();
          socket.destroy();
          this.#end();
        }
        resolve(outcome);
      };
      const timer = setTimeout(
        () =>
          done({
            kind: 'error',
            error: codedError(`connect timeout after ${connectTimeoutMs} ms`, h2ErrorCodes.connectTimeout),
          }),
        connectTimeoutMs,
      );
      timer.unref();
      // The session counts as up once the instance's first SETTINGS arrived: its stream limit is known by then.
      if (tls === undefined) {
        socket = netConnect({ host, port }, () => this.#open(socket, done));
      } else {
        const secure = tlsConnect({ ...tls, host, port }, () => {
          if (secure.alpnProtocol === 'h2') this.#open(secure, done);
          else done({ kind: 'http/1.1' });
        });
        socket = secure;
      }
      socket.on('error', (error) => done({ kind: 'error', error }));
    });
  }

  #open(socket: Duplex, done: (outcome: ConnectOutcome) => void): void {
    const session = h2connect(this.#options.origin, { createConnection: () => socket });
    this.#session = session;
    session.on('error', (error: Error) => done({ kind: 'error', error })); // later errors reach streams through 'close'
    session.on('remoteSettings', (settings: Settings) => {
      this.maxStreams = settings.maxConcurrentStreams ?? initialStreamLimit;
      if (!this.usable && !this.gone && !session.closed) {
        this.usable = true;
        done({ kind: 'h2' });
      }
    });
    // Streams above lastStreamID are closed by nghttp2 with REFUSED_STREAM: the pool sends them again (RFC 9113 §6.8).
    session.on('goaway', () => (this.usable = false));
    session.once('close', () => this.#end());
    this.#armIdle();
    this.#ping = setInterval(this.#sendPing, this.#options.pingIntervalMs);
    this.#ping.unref();
  }

  /** A stream started (or was promised) here. */
  take(): void {
    this.active++;
    if (this.#idle !== undefined) {
      clearTimeout(this.#idle);
      this.#idle = undefined;
    }
  }

  /** A stream ended here. */
  give(): void {
    this.active--;
    if (this.active === 0) this.#armIdle();
  }

  /** Graceful: GOAWAY, open streams finish. */
  close(): void {
    this.usable = false;
    if (this.#session === undefined) this.#end();
    else this.#session.close();
  }

  /** Immediate: every open stream is cut. */
  destroy(): void {
    this.usable = false;
    if (this.#session === undefined) this.#end();
    else this.#session.destroy();
  }

  #armIdle(): void {
    if (this.#session === undefined || this.gone) return;
    this.#idle = setTimeout(() => this.close(), this.#options.idleTimeoutMs);
    this.#idle.unref();
  }

  readonly #sendPing = (): void => {
    const session = this.#session;
    if (session === undefined || session.destroyed) return;
    if (this.#pingOutstanding) {
      // A whole interval without an answer: the instance or the path is gone (half-open connection).
      session.destroy(codedError('the instance did not answer PING', h2ErrorCodes.reset));
      return;
    }
    this.#pingOutstanding = true;
    try {
      session.ping((error) => {
        if (error === null) this.#pingOutstanding = false;
      });
    } catch {
      // Too many PINGs in flight or the session is closing: the next tick decides.
    }
  };

  #end(): void {
    if (this.gone) return;
    this.gone = true;
    this.usable = false;
    if (this.#idle !== undefined) clearTimeout(this.#idle);
    if (this.#ping !== undefined) clearInterval(this.#ping);
    this.#onGone(this);
  }
}
