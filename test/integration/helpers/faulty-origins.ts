import {
  createSecureServer,
  createServer as createH2Server,
  type Http2SecureServer,
  type Http2Server,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
  type Settings,
} from 'node:http2';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * Instances that misbehave on purpose, below what node:http would let a handler do: a raw TCP origin that reads each
 * HTTP/1.1 request head and answers with whatever bytes a script writes, and an HTTP/2 origin (h2c, or h2 over TLS)
 * whose handler gets the raw stream and session.
 */

/** One HTTP/1.1 request head as a raw origin read it. */
export interface RawRequest {
  readonly head: string;
  readonly method: string;
  readonly path: string;
  /** Lower-case header names. */
  readonly headers: Record<string, string>;
  /** The nth request on this connection, from 0. */
  readonly index: number;
}

/** The script of a raw origin: write bytes to the socket (or end/destroy it) for each request head. */
export type RawScript = (socket: Socket, request: RawRequest) => void;

export interface RawOrigin {
  readonly url: string;
  readonly port: number;
  /** Every request head read, in order, across connections. */
  readonly requests: RawRequest[];
  close(): Promise<void>;
}

/** Starts a raw HTTP/1.1 origin; request bodies are read by Content-Length (no chunked parsing) and dropped. */
export async function startRawOrigin(script: RawScript): Promise<RawOrigin> {
  const requests: RawRequest[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffered = Buffer.alloc(0);
    let skip = 0;
    let index = 0;
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        if (skip > 0) {
          const taken = Math.min(skip, buffered.length);
          skip -= taken;
          buffered = buffered.subarray(taken);
          if (skip > 0) return;
        }
        const end = buffered.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = buffered.subarray(0, end).toString('latin1');
        buffered = buffered.subarray(end + 4);
        const [line = '', ...fields] = head.split('\r\n');
        const [method = '', path = ''] = line.split(' ');
        const headers: Record<string, string> = {};
        for (const field of fields) {
          const colon = field.indexOf(':');
          if (colon > 0) headers[field.slice(0, colon).trim().toLowerCase()] = field.slice(colon + 1).trim();
        }
        skip = Number(headers['content-length'] ?? 0);
        const request = { head, method, path, headers, index: index++ };
        requests.push(request);
        script(socket, request);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The handler of an HTTP/2 origin: answer (or misbehave on) one stream. */
export type H2Handler = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, session: ServerHttp2Session) => void;

export interface H2Origin {
  readonly url: string;
  readonly port: number;
  /** The request headers of every stream, in order. */
  readonly requests: IncomingHttpHeaders[];
  /** Sessions opened by peers so far (connections). */
  readonly sessions: Set<ServerHttp2Session>;
  /** Every session ever opened, closed ones included. */
  readonly sessionCount: { value: number };
  close(): Promise<void>;
}

/**
 * Starts an HTTP/2 origin on 127.0.0.1:0: h2c with prior knowledge, or h2 over TLS (ALPN h2; with `allowHTTP1` the
 * ALPN choice of `http/1.1` is served by node's compatibility layer, answering `200 h1`).
 */
export async function startH2Origin(
  handler: H2Handler,
  options: {
    readonly tls?: { readonly cert: string; readonly key: string };
    readonly settings?: Settings;
    readonly allowHTTP1?: boolean;
  } = {},
): Promise<H2Origin> {
  const requests: IncomingHttpHeaders[] = [];
  const sessions = new Set<ServerHttp2Session>();
  const sessionCount = { value: 0 };
  const settings = options.settings ?? {};
  const server: Http2Server | Http2SecureServer =
    options.tls === undefined
      ? createH2Server({ settings })
      : createSecureServer(
          { settings, cert: options.tls.cert, key: options.tls.key, allowHTTP1: options.allowHTTP1 ?? false },
          options.allowHTTP1
            ? (req, res) => {
                if (req.httpVersionMajor === 1) res.end('h1');
              }
            : undefined,
        );
  server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    sessionCount.value++;
    session.on('close', () => sessions.delete(session));
    session.on('error', () => undefined);
  });
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    stream.on('error', () => undefined);
    requests.push(headers);
    handler(stream, headers, stream.session as ServerHttp2Session);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `${options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
    requests,
    sessions,
    sessionCount,
    close: () =>
      new Promise<void>((resolve) => {
        for (const session of sessions) session.destroy();
        server.close(() => resolve());
      }),
  };
}

/** An HTTP/2 handler that answers 200 with `body` (and, when given, response trailers). */
export function answerH2(body: string, trailers?: Record<string, string>): H2Handler {
  return (stream) => {
    const respond = (): void => {
      stream.respond(
        { ':status': 200, 'content-type': 'text/plain' },
        trailers === undefined ? {} : { waitForTrailers: true },
      );
      if (trailers !== undefined) stream.once('wantTrailers', () => stream.sendTrailers(trailers));
      stream.end(body);
    };
    if (stream.readableEnded) respond();
    else {
      stream.resume();
      stream.once('end', respond);
    }
  };
}
