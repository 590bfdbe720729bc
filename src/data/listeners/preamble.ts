import type { Socket } from 'node:net';
import { readClientHello, type ClientHello } from '../l4/client-hello.js';
import { readProxyHeader, type ProxyAddress } from '../l4/proxy-protocol.js';
import { peerAddress } from '../downstream/client-address.js';

/** The first bytes a connection must send before it is routed: a PROXY header, a ClientHello, or both. */
export interface Preamble {
  /** The client: the PROXY header's source, else the socket's peer. */
  readonly client: ProxyAddress;
  readonly hello: ClientHello | undefined;
  /** Bytes received after the PROXY header (the ClientHello included): they belong to the connection's stream. */
  readonly rest: Buffer;
}

/**
 * Reads what must come before routing: a PROXY header (from a trusted peer) and/or a ClientHello, buffering at most
 * their size limits, within `timeoutMs`. Calls `done` once, with the preamble or undefined and why.
 */
export function readPreamble(
  socket: Socket,
  peer: ProxyAddress,
  wantsProxy: boolean,
  wantsHello: boolean,
  timeoutMs: number,
  done: (preamble: Preamble | undefined, problem?: string) => void,
): void {
  let buffered: Buffer = Buffer.alloc(0);
  let client = peer;
  let needProxy = wantsProxy;
  let finished = false;
  const finish = (preamble: Preamble | undefined, problem?: string): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.pause();
    done(preamble, problem);
  };
  const timer = setTimeout(() => finish(undefined, 'timeout before the first bytes were complete'), timeoutMs);
  const onEnd = (): void => finish(undefined, 'the client closed before routing');
  const onData = (chunk: Buffer): void => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    if (needProxy) {
      const header = readProxyHeader(buffered);
      if (header.kind === 'incomplete') return;
      if (header.kind === 'invalid') return finish(undefined, `PROXY header: ${header.reason}`);
      if (header.command === 'proxy' && header.source !== undefined) {
        client = { address: peerAddress(header.source.address), port: header.source.port };
      }
      buffered = buffered.subarray(header.length);
      needProxy = false;
    }
    if (!wantsHello) return finish({ client, hello: undefined, rest: buffered });
    if (buffered.length === 0) return;
    const hello = readClientHello(buffered);
    if (hello.kind === 'incomplete') return;
    if (hello.kind === 'invalid') return finish(undefined, `ClientHello: ${hello.reason}`);
    finish({ client, hello, rest: buffered });
  };
  socket.on('data', onData);
  socket.once('end', onEnd);
}
