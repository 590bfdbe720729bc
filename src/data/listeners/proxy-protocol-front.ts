import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../../core/log.js';
import { throttledErrorLog } from '../../core/throttled-log.js';
import { peerAddress, TrustedProxies } from '../downstream/client-address.js';
import { connectionRecord } from '../downstream/connection-record.js';
import { readPreamble } from './preamble.js';

/**
 * Accepts connections for an HTTP or HTTPS server when the listener has `acceptProxyProtocol`: a connection from a
 * trusted peer must begin with a PROXY header (v1 or v2) within `headerMs`, else it is closed; the header is taken off
 * and the connection handed to the server as if it had accepted it, with the client address remembered. Connections
 * from other peers are handed over at once, untouched (a PROXY header from them is just bytes, which HTTP refuses).
 */
export class ProxyProtocolFront {
  readonly server: Server;

  constructor(target: Server, trusted: TrustedProxies, headerMs: number, log: Logger) {
    this.server = createServer({ noDelay: true }, (socket: Socket) => {
      const peer = { address: peerAddress(socket.remoteAddress), port: socket.remotePort ?? 0 };
      if (!trusted.trusts(peer.address)) {
        target.emit('connection', socket);
        return;
      }
      socket.on('error', ignoreError);
      readPreamble(socket, peer, true, false, headerMs, (preamble, problem) => {
        socket.off('error', ignoreError);
        if (preamble === undefined) {
          log.debug({ client: peer.address, problem }, 'connection closed: no valid PROXY header');
          socket.destroy();
          return;
        }
        connectionRecord(socket).clientAddress = preamble.client.address;
        // The socket is paused: the server takes it, then reads what followed the header before anything newer.
        target.emit('connection', socket);
        if (preamble.rest.length > 0) socket.unshift(preamble.rest);
        socket.resume();
      });
    });
    this.server.on('error', throttledErrorLog(log, 'listener error'));
  }
}

const ignoreError = (): void => undefined;

/** The front for a listener's server when it has `acceptProxyProtocol`, else undefined (the server listens itself). */
export function proxyProtocolFront(
  target: Server,
  snapshot: {
    readonly acceptProxyProtocol?: readonly string[] | undefined;
    readonly timeouts: { readonly headerMs: number };
  },
  log: Logger,
): ProxyProtocolFront | undefined {
  const peers = snapshot.acceptProxyProtocol;
  if (peers === undefined || peers.length === 0) return undefined;
  return new ProxyProtocolFront(target, new TrustedProxies(peers), snapshot.timeouts.headerMs, log);
}

/** True when two listeners accept PROXY headers from the same peers (else the listener needs a new socket). */
export function sameProxyPeers(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  return (a ?? []).join(',') === (b ?? []).join(',');
}

/** Closes a server, resolving once its connections are gone (an error for a server not listening is ignored). */
export function closeServer(server: Server | undefined): Promise<void> {
  return server === undefined ? Promise.resolve() : new Promise((resolve) => server.close(() => resolve()));
}
