import { readFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { connect as connectTcp, isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as connectTls, type ConnectionOptions } from 'node:tls';
import { problemJson, type ProxyError } from '../../core/errors.js';
import type { ServiceSnapshot } from '../../core/snapshot.js';

/** A raw connection to an endpoint and the event that says it is ready for bytes. */
export interface UpstreamSocket {
  readonly socket: Socket;
  readonly readyEvent: 'connect' | 'secureConnect';
}

/** TLS options per service snapshot: the PEM files are read once per snapshot, not per tunnel. */
const tlsOptionsCache = new WeakMap<ServiceSnapshot, ConnectionOptions>();

/**
 * Opens a TCP connection to an endpoint URL, or a TLS one for `https://` endpoints (with the service's `upstreamTls`:
 * CA, expected name, client certificate; verification is never turned off). Errors surface on the socket.
 */
export function connectUpstream(url: string, service: ServiceSnapshot): UpstreamSocket {
  const parsed = new URL(url);
  const secure = parsed.protocol === 'https:';
  const host = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname;
  const port = Number(parsed.port) || (secure ? 443 : 80);
  if (!secure) return { socket: connectTcp({ host, port, noDelay: true }), readyEvent: 'connect' };
  const options = tlsOptionsFor(service);
  const servername = options.servername ?? (isIP(host) === 0 ? host : undefined);
  const socket = connectTls({
    ...options,
    host,
    port,
    ...(servername === undefined ? {} : { servername }),
    ALPNProtocols: ['http/1.1'],
  });
  socket.setNoDelay(true);
  return { socket, readyEvent: 'secureConnect' };
}

function tlsOptionsFor(service: ServiceSnapshot): ConnectionOptions {
  let options = tlsOptionsCache.get(service);
  if (options === undefined) {
    const tls = service.upstreamTls;
    options = {
      rejectUnauthorized: true,
      ...(tls?.ca === undefined ? {} : { ca: readFileSync(tls.ca) }),
      ...(tls?.servername === undefined ? {} : { servername: tls.servername }),
      ...(tls?.cert === undefined ? {} : { cert: readFileSync(tls.cert) }),
      ...(tls?.key === undefined ? {} : { key: readFileSync(tls.key) }),
    };
    tlsOptionsCache.set(service, options);
  }
  return options;
}

/**
 * Answers on a raw (upgrade) socket with a problem document (RFC 9457) and closes it: the HTTP server no longer owns
 * the socket once it emitted `upgrade`, so this writes the response itself.
 */
export function writeRawProblem(
  socket: Duplex,
  error: ProxyError,
  requestId: string | undefined,
  detail?: string,
): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = problemJson(error, requestId, detail);
  const id = requestId === undefined ? '' : `x-request-id: ${requestId}\r\n`;
  socket.end(
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status]}\r\ncontent-type: application/problem+json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\n${id}connection: close\r\n\r\n${body}`,
    () => socket.destroy(),
  );
}
