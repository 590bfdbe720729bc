import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** What an origin saw of one request. */
export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  readonly remoteAddress: string;
}

/** A real HTTP server on 127.0.0.1:0 that records what reached it. */
export interface Origin {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly requests: SeenRequest[];
  close(): Promise<void>;
}

export type OriginHandler = (req: IncomingMessage, res: ServerResponse, origin: Origin) => void;

/** By default an origin answers `200 <name>` with `x-origin: <name>`. */
const answerWithName: OriginHandler = (req, res, origin) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'text/plain', 'x-origin': origin.name });
    res.end(origin.name);
  });
};

/** Starts an origin; `handler` may misbehave on purpose (hang, reset, truncate …). */
export async function startOrigin(name: string, handler: OriginHandler = answerWithName): Promise<Origin> {
  const requests: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  const self: { origin?: Origin } = {};
  const server: Server = createServer((req, res) => {
    requests.push({
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      remoteAddress: req.socket.remoteAddress ?? '',
    });
    handler(req, res, self.origin!);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  const origin: Origin = {
    name,
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closed;
    },
  };
  self.origin = origin;
  return origin;
}

/**
 * A config object with one HTTP listener on 127.0.0.1:0 (`web`) and one service `app` over the given URLs; the admin
 * API is off and registrations stay in memory unless `top` says otherwise.
 */
export function configWith(
  urls: readonly string[],
  service: Record<string, unknown> = {},
  listener: Record<string, unknown> = {},
  top: Record<string, unknown> = {},
) {
  return {
    admin: { enabled: false },
    registry: { store: 'memory' as const },
    ...top,
    listeners: [{ name: 'web', protocol: 'http' as const, address: '127.0.0.1:0', ...listener }],
    routes: [{ match: { path: { prefix: '/' } }, service: 'app' }],
    services: { app: { endpoints: urls.map((url) => ({ url })), ...service } },
  };
}
