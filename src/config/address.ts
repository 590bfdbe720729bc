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

/**
 * True when a listener configured at `current` and bound to `bound` already is the socket `next` asks for: the same
 * address text, or `current` asked for port 0 and `next` names the port it got (a config written after the start).
 */
export function sameSocketAddress(current: string, next: string, bound: { port: number } | string | null): boolean {
  if (next === current) return true;
  const was = parseListenAddress(current);
  const now = parseListenAddress(next);
  if (was === undefined || now === undefined || was.host !== now.host || was.port !== 0) return false;
  return bound !== null && typeof bound === 'object' && bound.port === now.port;
}
