import {
  createServer as createH2Server,
  type Http2Server,
  type Http2Session,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type ServerHttp2Session,
} from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { connectionRecord, existingRecord } from '../downstream/connection-record.js';
import { handleRequest } from '../http/http-proxy.js';
import type { ListenerRuntime } from '../runtime.js';

/**
 * The HTTP/2 side of a listener, shared by the TLS listener (connections that chose `h2` by ALPN) and the cleartext one
 * with `http2: true` (connections that begin with the HTTP/2 preface, h2c with prior knowledge). Limits follow
 * docs/guarantees.md §2: 100 concurrent streams, a 64 KiB stream window, a 16 KiB header list; a peer that keeps sending
 * invalid frames or opening refused streams loses its session. Requests go through the same `handleRequest` as
 * HTTP/1.1; a session idle for the listener's `keepAliveMs` is closed (GOAWAY).
 */
export class Http2Sessions {
  readonly #server: Http2Server;
  readonly #runtime: () => ListenerRuntime;
  readonly #sessions = new Set<ServerHttp2Session>();
  /** The client a trusted PROXY header named, per session of a cleartext connection (TLS finds it via `_parent`). */
  readonly #clients = new WeakMap<Http2Session, string>();
  /** The connection being handed over: its session is created (and announced) synchronously. */
  #accepting: Duplex | undefined;
  #draining = false;

  constructor(runtime: () => ListenerRuntime) {
    this.#runtime = runtime;
    this.#server = createH2Server(
      {
        settings: { maxConcurrentStreams: 100, initialWindowSize: 65_535, maxHeaderListSize: 16_384 },
        maxSessionInvalidFrames: 100,
        maxSessionRejectedStreams: 100,
      },
      this.#onRequest,
    );
    this.#server.on('session', (session) => {
      this.#sessions.add(session);
      session.on('close', () => this.#sessions.delete(session));
      session.on('error', () => undefined);
      session.setTimeout(this.#runtime().snapshot.timeouts.keepAliveMs, () => session.close());
      const client = this.#accepting === undefined ? undefined : existingRecord(this.#accepting)?.clientAddress;
      if (client !== undefined) this.#clients.set(session, client);
      if (this.#draining) session.close();
    });
    this.#server.on('sessionError', () => undefined);
  }

  /**
   * Serves a connection accepted elsewhere as HTTP/2. Bytes already read from it (the preface a cleartext listener
   * sniffed) must have been put back with `unshift` first: the session reads them before anything newer.
   */
  accept(socket: Duplex): void {
    this.#accepting = socket;
    try {
      this.#server.emit('connection', socket);
    } finally {
      this.#accepting = undefined;
    }
  }

  /** Draining: every session gets GOAWAY (open streams finish), and so does any session that starts from now on. */
  goAway(): void {
    this.#draining = true;
    for (const session of this.#sessions) session.close();
  }

  /** The drain deadline: what is left is cut. */
  destroyAll(): void {
    for (const session of this.#sessions) session.destroy();
  }

  readonly #onRequest = (req: Http2ServerRequest, res: Http2ServerResponse): void => {
    const session = req.stream.session;
    const client = session === undefined ? undefined : this.#clients.get(session);
    // `req.socket` is a proxy of the connection, not the socket the PROXY front recorded: give it the client too.
    if (client !== undefined) connectionRecord(req.socket).clientAddress = client;
    // The compatibility API mirrors IncomingMessage/ServerResponse closely enough for the proxy's use.
    handleRequest(req as unknown as IncomingMessage, res as unknown as ServerResponse, this.#runtime());
  };
}
