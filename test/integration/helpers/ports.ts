import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';

/**
 * A port on 127.0.0.1 with nothing listening on it (bound by the OS, then closed): for a listener that must move to a
 * known address, or an endpoint that refuses connections.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
