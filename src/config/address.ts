/** A listen address split into host and port; `host` is empty for "every interface". */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

const addressPattern = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]*)):(\d{1,5})$/;

/**
 * Parses `host:port`, `[v6]:port` or `:port` (every interface). Port 0 asks the OS for a free port.
 * Returns undefined for anything else.
 */
export function parseListenAddress(text: string): ListenAddress | undefined {
  const match = addressPattern.exec(text);
  if (match === null) return undefined;
  const port = Number(match[3]);
  if (port > 65535) return undefined;
  return { host: match[1] ?? match[2] ?? '', port };
}

/** Anything that listens like a `net.Server` (http, https, tls and http2 servers all do). */
interface Listenable {
  listen(options: { host?: string; port: number }, callback: () => void): unknown;
  once(event: 'error', listener: (error: Error) => void): unknown;
  off(event: 'error', listener: (error: Error) => void): unknown;
}

/** Binds a server to a configured `host:port` (empty host: every interface); rejects with the bind error. */
export function listenAt(server: Listenable, text: string): Promise<void> {
  const address = parseListenAddress(text);
  if (address === undefined) return Promise.reject(new Error(`invalid listen address ${text}`));
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ ...(address.host === '' ? {} : { host: address.host }), port: address.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
