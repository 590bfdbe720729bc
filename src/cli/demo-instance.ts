import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A tiny service instance for the demo: answers every request with who it is. */
export interface DemoInstance {
  readonly name: string;
  readonly url: string;
  close(): Promise<void>;
}

/** Starts a demo instance on 127.0.0.1 and a free port. `GET /health` answers 200 for health checks. */
export async function startDemoInstance(name: string): Promise<DemoInstance> {
  let served = 0;
  const server: Server = createServer((req, res) => {
    req.resume();
    if (req.url !== '/health') served++;
    const body = `${JSON.stringify({ instance: name, served, method: req.method, path: req.url, via: req.headers['via'] })}\n`;
    res.writeHead(200, {
      'content-type': 'application/json',
      'x-instance': name,
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
