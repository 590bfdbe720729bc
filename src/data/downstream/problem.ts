import type { ServerResponse } from 'node:http';
import { problemJson, type ProxyError } from '../../core/errors.js';
import { answersGrpc, grpcStatusFor, sendGrpcError } from '../http/grpc-status.js';
import { recordProblem } from './connection-record.js';

/**
 * Answers with a small problem+json document (RFC 9457). With `close`, the connection is closed after it: used for
 * malformed or abusive requests, where the rest of the connection cannot be trusted. `headers` adds fields (a flat
 * name/value list).
 */
export function sendProblem(
  res: ServerResponse,
  error: ProxyError,
  requestId: string | undefined,
  options: { readonly detail?: string; readonly close?: boolean; readonly headers?: readonly string[] } = {},
): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  if (answersGrpc(res)) {
    // A gRPC client reads grpc-status, not a problem document (docs/grpc.md).
    const message = options.detail === undefined ? error.title : `${error.title}: ${options.detail}`;
    sendGrpcError(res, grpcStatusFor(error), message, requestId, options.headers);
    recordProblem(res, error);
    return;
  }
  const body = problemJson(error, requestId, options.detail);
  const headers = ['content-type', 'application/problem+json', 'content-length', String(Buffer.byteLength(body))];
  if (requestId !== undefined) headers.push('x-request-id', requestId);
  // Extra fields as a flat name/value list (Retry-After, RateLimit-*).
  if (options.headers !== undefined) headers.push(...options.headers);
  // HTTP/2 has no Connection field (RFC 9113 §8.2.2): there the stream ends with the response.
  if (options.close === true && !('stream' in res)) headers.push('connection', 'close');
  res.writeHead(error.status, headers);
  res.end(body);
  recordProblem(res, error);
}
