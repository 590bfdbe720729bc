import type { ProxyError } from '../../core/errors.js';

/**
 * What Switchyard knows of one client connection beyond what its socket says: the client address a trusted PROXY
 * header gave it, and how many bytes it had carried when its previous access-log line was written (so each
 * keep-alive request, and a WebSocket tunnel after them, counts only its own bytes). Kept on the socket itself under
 * a private symbol, so a request reaches it by a property read, and it goes when the socket goes.
 */
export interface ConnectionRecord {
  /** The client a trusted PROXY protocol header named; undefined when there was none. */
  clientAddress: string | undefined;
  /** `bytesRead` / `bytesWritten` when the previous line was written; undefined before the first one. */
  readMark: number | undefined;
  writtenMark: number;
}

const recordKey = Symbol('switchyard.downstream.connection');
const problemKey = Symbol('switchyard.downstream.problem');

interface Carrier {
  [recordKey]?: ConnectionRecord;
  [problemKey]?: ProxyError;
}

/**
 * The record of the connection `socket` is (the raw socket, a TLS socket over it, or an HTTP/2 stream's socket
 * proxy, which reads and writes through to the session's socket), made empty the first time it is asked for.
 */
export function connectionRecord(socket: object): ConnectionRecord {
  const carrier = socket as Carrier;
  let record = carrier[recordKey];
  if (record === undefined) {
    record = { clientAddress: undefined, readMark: undefined, writtenMark: 0 };
    carrier[recordKey] = record;
  }
  return record;
}

/** The record of `socket` if one was made; never makes one. */
export function existingRecord(socket: object): ConnectionRecord | undefined {
  return (socket as Carrier)[recordKey];
}

/** Notes the error a response was answered with (every problem answer passes here), for the access log's flags. */
export function recordProblem(res: object, error: ProxyError): void {
  (res as Carrier)[problemKey] = error;
}

/** The error a response was answered with, if it was a problem answer. */
export function problemOf(res: object): ProxyError | undefined {
  return (res as Carrier)[problemKey];
}
