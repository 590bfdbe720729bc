import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { problemJson, proxyErrors, type ProxyError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { throttledErrorLog, throttledWarning } from '../../core/throttled-log.js';
import { peerAddress } from '../downstream/client-address.js';
import type { ListenerTraffic } from '../../core/traffic.js';
import { listenAt, sameSocketAddress } from '../../config/address.js';
import type { AcmeChallenges } from './acme-challenges.js';
import { ClientConnections } from './client-connections.js';
import { drainUntil } from './drain.js';
import { readPreface, type PrefaceVerdict } from './h2c-preface.js';
import { Http2Sessions } from './http2-sessions.js';
import { closeServer, proxyProtocolFront, sameProxyPeers, type ProxyProtocolFront } from './proxy-protocol-front.js';
import { handleRequest } from '../http/http-proxy.js';
import { OpenTunnels } from '../http/open-tunnels.js';
import { sendProblem } from '../downstream/problem.js';
import { proxyUpgrade } from '../http/websocket-tunnel.js';
import type { ListenerRuntime } from '../runtime.js';
import type { Listener } from './listener.js';

/**
 * An HTTP/1.1 listener. Node's parser enforces the header block size and the header timeout (checked every second,
 * so a slowloris client is closed within about `headerMs` + 1 s); this class adds the body-idle timeout and turns
 * every parser rejection into a problem document and a closed connection.
 *
 * With `http2: true` (h2c, prior knowledge) a front socket reads each connection's first bytes: the HTTP/2 preface
 * sends it to an HTTP/2 server with the TLS listener's limits (`Http2Sessions`), anything else to the HTTP/1.1 one.
 * Without it, connections go straight to the HTTP/1.1 server (nothing is read ahead).
 */
export class HttpListener implements Listener<ListenerRuntime> {
  readonly #server: Server;
  /** With `acceptProxyProtocol`: the socket that listens, taking PROXY headers off before the server sees bytes. */
  readonly #front: ProxyProtocolFront | undefined;
  /** With `http2: true` on `http`: the socket that takes connections (after any PROXY header) and reads the preface. */
  readonly #h2c: { readonly server: NetServer; readonly sessions: Http2Sessions } | undefined;
  readonly #log: Logger;
  #runtime: ListenerRuntime;
  #draining = false;
  /** Upgraded connections (WebSocket tunnels): Node's server no longer tracks them, so the listener does. */
  readonly #tunnels = new OpenTunnels();
  /** Open client connections, what those already closed exchanged, and how many are admitted under the limits. */
  readonly #connections = new ClientConnections();
  /** Connections over a limit, kept only to answer their first request 503 (`#admit`); `#overLimitOpen` counts them. */
  readonly #overLimit = new WeakSet<object>();
  #overLimitOpen = 0;
  /** HTTP-01 tokens the ACME resolver waits on (answered before routing); not on the https listener's HTTP/1.1. */
  readonly #acme: AcmeChallenges | undefined;

  constructor(runtime: ListenerRuntime, log: Logger, acme?: AcmeChallenges) {
    this.#runtime = runtime;
    this.#acme = acme;
    this.#log = log.child({ listener: runtime.snapshot.name });
    const { timeouts, limits } = runtime.snapshot;
    this.#server = createServer(
      {
        maxHeaderSize: limits.headerBytes,
        headersTimeout: timeouts.headerMs,
        requestTimeout: 0, // bodies are bounded by the idle timeout instead, so long uploads keep working
        keepAliveTimeout: timeouts.keepAliveMs,
        connectionsCheckingInterval: 1_000,
        requireHostHeader: false, // checked by the proxy, which answers with a problem document
        joinDuplicateHeaders: false,
      },
      this.#onRequest,
    );
    // One more than the limit, so that "too many" is detected instead of silently truncated.
    this.#server.maxHeadersCount = limits.headerCount + 1;
    const rejected = throttledWarning(this.#log, 'request rejected by the HTTP parser');
    this.#server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
      // A client that reset its connection is not rejected, just gone.
      if (error.code !== 'ECONNRESET')
        rejected({ code: error.code, client: peerAddress((socket as Socket).remoteAddress), reason: error.message });
      onClientError(error, socket);
    });
    // Switchyard is a reverse proxy, not a forward one: CONNECT gets a problem document, not a silent close.
    this.#server.on('connect', (_req: IncomingMessage, socket: Duplex) =>
      writeClientError(Object.assign(new Error('CONNECT'), { code: 'CONNECT' }), socket),
    );
    this.#server.on('upgrade', this.#onUpgrade);
    this.#h2c = servesH2c(runtime.snapshot)
      ? {
          server: createNetServer({ noDelay: true }, this.#onCleartext),
          sessions: new Http2Sessions(() => this.#runtime),
        }
      : undefined;
    // Each connection is counted once, where it is accepted: before the preface is read on an h2c listener.
    (this.#h2c?.server ?? this.#server).on('connection', this.#onConnection);
    // Node answers `Expect: 100-continue` itself; any other expectation is refused (RFC 9110 §10.1.1).
    this.#server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) =>
      sendProblem(res, proxyErrors.expectationFailed, undefined, { close: true }),
    );
    this.#server.on('error', throttledErrorLog(this.#log, 'listener error'));
    this.#h2c?.server.on('error', (error) => this.#log.error({ err: error }, 'listener error'));
    this.#front = proxyProtocolFront(this.#h2c?.server ?? this.#server, runtime.snapshot, this.#log);
  }

  /** The socket that listens: the PROXY front, else the h2c preface reader, else the HTTP/1.1 server. */
  get #listening(): NetServer {
    return this.#front?.server ?? this.#h2c?.server ?? this.#server;
  }

  /** The listener's name (as in the configuration). */
  get name(): string {
    return this.#runtime.snapshot.name;
  }

  /** The configured protocol (the `protocol` label of the connection metrics). */
  get protocol(): string {
    return this.#runtime.snapshot.protocol;
  }

  /**
   * Client connections now and since the start, and the bytes they carried: those of closed connections plus what
   * the open ones (keep-alive, WebSocket tunnels) have read and written so far, so the totals grow smoothly.
   */
  get traffic(): ListenerTraffic {
    return this.#connections.traffic;
  }

  /** True when this listener can take `next` without new sockets or server options. */
  accepts(next: ListenerRuntime): boolean {
    const a = this.#runtime.snapshot;
    const b = next.snapshot;
    return (
      sameSocketAddress(a.address, b.address, this.#listening.address()) &&
      a.protocol === b.protocol &&
      a.limits.headerBytes === b.limits.headerBytes &&
      servesH2c(a) === servesH2c(b) &&
      sameProxyPeers(a.acceptProxyProtocol, b.acceptProxyProtocol)
    );
  }

  /** Swaps in a new snapshot's runtime; requests already running keep the one they started with. */
  update(runtime: ListenerRuntime): void {
    this.#runtime = runtime;
    this.#server.headersTimeout = runtime.snapshot.timeouts.headerMs;
    this.#server.keepAliveTimeout = runtime.snapshot.timeouts.keepAliveMs;
    this.#server.maxHeadersCount = runtime.snapshot.limits.headerCount + 1;
  }

  async listen(): Promise<AddressInfo> {
    await listenAt(this.#listening, this.#runtime.snapshot.address);
    const bound = this.address();
    this.#log.info({ address: bound.address, port: bound.port }, 'listening');
    return bound;
  }

  address(): AddressInfo {
    return this.#listening.address() as AddressInfo;
  }

  /**
   * Stops accepting, closes idle keep-alive connections as they become idle, and waits for in-flight requests
   * until `deadlineMs`; then closes what is left. Resolves true when the deadline forced connections closed. HTTP/2
   * (h2c) sessions get GOAWAY at once and their open streams finish.
   */
  async close(deadlineMs: number): Promise<boolean> {
    this.#draining = true;
    const closed = Promise.all([
      closeServer(this.#server),
      closeServer(this.#front?.server),
      closeServer(this.#h2c?.server),
    ]);
    this.#h2c?.sessions.goAway();
    // Open tunnels are left alone until the deadline (a drain does not cut a WebSocket that is still in use).
    return drainUntil(
      Promise.all([closed, this.#tunnels.idle()]),
      deadlineMs,
      () => this.#server.closeIdleConnections(),
      () => {
        this.#server.closeAllConnections();
        this.#tunnels.destroyAll();
        if (this.#h2c === undefined) return;
        this.#h2c.sessions.destroyAll();
        // Connections still sending their first bytes belong to neither server yet.
        this.#connections.destroyAll();
      },
    );
  }

  /** Serves a connection accepted elsewhere: the TLS listener hands over its HTTP/1.1 connections. */
  accept(socket: Duplex): void {
    this.#server.emit('connection', socket);
  }

  /** Marks the listener as draining (`Connection: close` on the next responses) and closes idle connections now. */
  drainIdle(): void {
    this.#draining = true;
    this.#server.closeIdleConnections();
  }

  readonly #onConnection = (socket: Socket): void => {
    this.#connections.add(socket);
    this.#admit(socket);
  };

  /**
   * Counts a connection against `limits.maxConnections` and the process total (`overload.maxConnections`). One over
   * either gets its first request answered 503 with Retry-After, then closes (Node's header timeout bounds one that
   * sends nothing); on an h2c listener, whose first bytes may be HTTP/2, it is reset at once. Connections the TLS
   * listener hands over were counted at its TCP accept.
   */
  #admit(socket: Socket): void {
    if ((socket as { encrypted?: boolean }).encrypted === true) return;
    const runtime = this.#runtime;
    if (this.#connections.admit(socket, runtime.snapshot.limits.maxConnections, runtime.overload)) return;
    if (runtime.snapshot.http2 === true) {
      socket.on('error', () => undefined);
      socket.resetAndDestroy();
      return;
    }
    this.#overLimit.add(socket);
    this.#overLimitOpen++;
    socket.once('close', () => this.#overLimitOpen--);
  }

  /** A connection to an h2c listener: its first bytes choose HTTP/2 or HTTP/1.1 (docs/guarantees.md §2 limits either way). */
  readonly #onCleartext = (socket: Socket): void => {
    readPreface(socket, this.#runtime.snapshot.timeouts.headerMs, (verdict, buffered) =>
      this.#serve(socket, verdict, buffered),
    );
  };

  #serve(socket: Socket, verdict: PrefaceVerdict, buffered: Buffer): void {
    if (verdict === 'h2' && this.#h2c !== undefined) {
      // The session reads what is buffered on the socket before anything newer.
      socket.unshift(buffered);
      this.#h2c.sessions.accept(socket);
    } else if (verdict === 'http/1') {
      // As the PROXY front does: the server takes the paused socket, then reads the bytes already taken off first.
      this.#server.emit('connection', socket);
      if (buffered.length > 0) socket.unshift(buffered);
      socket.resume();
    } else if (verdict === 'timeout') {
      // The header block timeout, as the HTTP/1.1 server would apply it: 408, then the connection closes.
      writeClientError(Object.assign(new Error('request timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }), socket);
    } else {
      socket.destroy();
    }
  }

  /** An upgrade request: proxied as a tunnel on a route that allows WebSocket, refused elsewhere. */
  readonly #onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (this.#overLimitOpen !== 0 && this.#overLimit.has(req.socket)) {
      writeProblem(socket, proxyErrors.tooManyConnections, this.#runtime.overload.retryAfter);
      return;
    }
    proxyUpgrade(req, socket, head, this.#runtime, this.#tunnels);
  };

  readonly #onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    // While draining, each keep-alive client is told to go away with its next response.
    if (this.#draining) res.shouldKeepAlive = false;
    if (this.#overLimitOpen !== 0 && this.#overLimit.has(req.socket)) {
      const headers = this.#runtime.overload.retryAfter;
      sendProblem(res, proxyErrors.tooManyConnections, undefined, { close: true, headers });
      return;
    }
    if (this.#acme?.answerHttp01(req, res) === true) return;
    handleRequest(req, res, this.#runtime);
  };
}

/** True when a listener serves cleartext HTTP/2 with prior knowledge beside HTTP/1.1 (`http2: true` on `http`). */
function servesH2c(snapshot: { readonly protocol: string; readonly http2?: boolean | undefined }): boolean {
  return snapshot.protocol === 'http' && snapshot.http2 === true;
}

/** Parser rejections (oversized header block, malformed framing, header timeout): one 4xx, then the socket closes. */
function onClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  const inFlight = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
  if (error.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent === true) {
    socket.destroy();
    return;
  }
  if (inFlight !== undefined && inFlight !== null && !inFlight.writableFinished && inFlight.req.complete) {
    // Garbage after a complete pipelined request: that request's response goes first, then the 400 and the close.
    // (An error inside the request still being read — a broken chunked body — is answered at once.)
    inFlight.once('finish', () => writeClientError(error, socket));
    inFlight.once('close', () => socket.destroy());
    return;
  }
  writeClientError(error, socket);
}

function writeClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  writeProblem(socket, clientErrorProblem(error.code), [], error.code);
}

/** A problem document written straight to a socket (no ServerResponse): `headers` is a flat name/value list. */
function writeProblem(socket: Duplex, problem: ProxyError, headers: readonly string[], detail?: string): void {
  if (!socket.writable) return;
  const body = problemJson(problem, undefined, detail);
  let extra = '';
  for (let i = 0; i < headers.length; i += 2) extra += `${headers[i]}: ${headers[i + 1]}\r\n`;
  socket.end(
    `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status]}\r\ncontent-type: application/problem+json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\n${extra}connection: close\r\n\r\n${body}`,
    () => socket.destroy(),
  );
}

function clientErrorProblem(code: string | undefined): ProxyError {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return proxyErrors.headersTooLarge;
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return proxyErrors.requestTimeout;
    case 'CONNECT':
      return proxyErrors.methodNotAllowed;
    default:
      return proxyErrors.badRequest;
  }
}
