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
