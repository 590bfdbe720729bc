import type { Socket } from 'node:net';

/** The client connection preface (RFC 9113 §3.4): what an HTTP/2 client with prior knowledge sends first. */
export const http2Preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** What a cleartext connection's first bytes say: HTTP/2 (h2c), HTTP/1.x, or nothing in time / before the end. */
export type PrefaceVerdict = 'h2' | 'http/1' | 'timeout' | 'closed';

/**
 * Reads a cleartext connection's first bytes until they are the whole HTTP/2 preface or stop matching it; an HTTP/1.x
 * request never begins with `PRI * HTTP/2.0`, and the first byte usually decides. Calls `done` once, with the verdict
 * and the bytes read (up to the chunk that decided), the socket paused and without the listeners added here (but a
 * no-op error listener when it is not handed over): those bytes must be put back (`unshift`) before the connection
 * is served.
 */
export function readPreface(
  socket: Socket,
  timeoutMs: number,
  done: (verdict: PrefaceVerdict, buffered: Buffer) => void,
): void {
  let buffered: Buffer = Buffer.alloc(0);
  let finished = false;
  const finish = (verdict: PrefaceVerdict): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('end', onEnd);
    // A connection handed over gets the server's error listener; one that is closed here keeps a no-op one.
    if (verdict === 'h2' || verdict === 'http/1') socket.off('error', onError);
    socket.pause();
    done(verdict, buffered);
  };
  const timer = setTimeout(() => finish('timeout'), timeoutMs);
  const onEnd = (): void => finish('closed');
  const onError = (): void => finish('closed');
  const onData = (chunk: Buffer): void => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    const end = Math.min(buffered.length, http2Preface.length);
    if (buffered.compare(http2Preface, 0, end, 0, end) !== 0) finish('http/1');
    else if (end === http2Preface.length) finish('h2');
  };
  socket.on('data', onData);
  socket.once('end', onEnd);
  socket.on('error', onError);
}
