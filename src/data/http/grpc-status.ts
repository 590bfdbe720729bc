import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { ServerHttp2Stream } from 'node:http2';
import { proxyErrors, type ProxyError, type ProxyErrorName } from '../../core/errors.js';

/** The gRPC status codes Switchyard answers with or reads (grpc/doc/statuscodes.md). */
export const grpcCodes = {
  ok: 0,
  cancelled: 1,
  unknown: 2,
  invalidArgument: 3,
  deadlineExceeded: 4,
  notFound: 5,
  resourceExhausted: 8,
  unimplemented: 12,
  internal: 13,
  unavailable: 14,
} as const;

/**
 * The gRPC status of each of Switchyard's own failures (`core/errors.ts`), as a gRPC client should see it: UNAVAILABLE
 * for what another try may cure (no endpoint, connect failure, reset, overload), DEADLINE_EXCEEDED for timeouts,
 * RESOURCE_EXHAUSTED for limits the caller hit (rate limit, sizes), UNIMPLEMENTED where nothing serves the method,
 * INTERNAL for malformed requests (gRPC's own mapping of HTTP 400, doc/http-grpc-status-mapping.md).
 */
const grpcStatusOfError: Record<ProxyErrorName, number> = {
  noRoute: grpcCodes.unimplemented,
  noEndpoint: grpcCodes.unavailable,
  noEndpointRegistered: grpcCodes.unavailable,
  connectFailure: grpcCodes.unavailable,
  upstreamReset: grpcCodes.unavailable,
  upstreamTimeout: grpcCodes.deadlineExceeded,
  upstreamProtocolError: grpcCodes.unavailable,
  upstreamTlsFailure: grpcCodes.unavailable,
  methodNotAllowed: grpcCodes.unimplemented,
  badRequest: grpcCodes.internal,
  invalidPath: grpcCodes.internal,
  requestTimeout: grpcCodes.deadlineExceeded,
  payloadTooLarge: grpcCodes.resourceExhausted,
  expectationFailed: grpcCodes.internal,
  uriTooLong: grpcCodes.resourceExhausted,
  headersTooLarge: grpcCodes.resourceExhausted,
  tooManyConnections: grpcCodes.unavailable,
  overloaded: grpcCodes.unavailable,
  upstreamOverflow: grpcCodes.unavailable,
  queueTimeout: grpcCodes.unavailable,
  localResources: grpcCodes.unavailable,
  rateLimited: grpcCodes.resourceExhausted,
};

/** The same, by each error's stable `code`, so any `ProxyError` value finds its status. */
const statusByCode = new Map<string, number>(
  Object.entries(grpcStatusOfError).map(([name, status]) => [proxyErrors[name as ProxyErrorName].code, status]),
);

/** The gRPC status for one of Switchyard's errors; UNKNOWN for an error outside the table. */
export function grpcStatusFor(error: ProxyError): number {
  return statusByCode.get(error.code) ?? grpcCodes.unknown;
}

/**
 * The grpc-status each gRPC response carried to its client (from the instance's trailers or Trailers-Only head, or
 * Switchyard's own answer), for the access log's `grpc_status` and the per-service count. Read when the response
 * closes; a response without one (not gRPC, or cut before its status) is simply absent.
 */
export const grpcStatuses = new WeakMap<ServerResponse, number>();

/** Notes the grpc-status of a response from its header or trailer fields; ignores a missing or malformed one. */
export function noteGrpcStatus(res: ServerResponse, value: unknown): void {
  const text: unknown = Array.isArray(value) ? (value as unknown[])[0] : value;
  if (typeof text !== 'string' || !/^\d{1,2}$/.test(text)) return;
  grpcStatuses.set(res, Number(text));
}

/** Counts the call's grpc-status in `counts` (a service's `grpcStatuses`) once its response closed. */
export function countGrpcStatus(res: ServerResponse, counts: number[] | undefined): void {
  if (counts === undefined) return;
  res.once('close', () => {
    const status = grpcStatuses.get(res);
    if (status !== undefined && status < counts.length) counts[status]!++;
  });
}

/** True for a gRPC request: `content-type: application/grpc`, `application/grpc+proto`, `application/grpc-web…`. */
export function isGrpcContentType(contentType: string | string[] | undefined): boolean {
  return typeof contentType === 'string' && /^application\/grpc(?:$|[+;-])/i.test(contentType);
}

/** True when the request `res` answers is a gRPC call (its `content-type`). */
export function answersGrpc(res: ServerResponse): boolean {
  const headers = (res as { req?: { headers?: IncomingHttpHeaders } }).req?.headers;
  return isGrpcContentType(headers?.['content-type']);
}

/**
 * `grpc-message` is percent-encoded UTF-8: bytes outside printable ASCII, and `%` itself, as `%XX` (gRPC
 * PROTOCOL-HTTP2 "Responses").
 */
export function encodeGrpcMessage(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const timeoutUnitsMs: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 0.001, n: 0.000_001 };

/**
 * The deadline a `grpc-timeout` header gives, in ms (rounded up, at least 1): `1*8DIGIT` and a unit `H M S m u n`
 * (PROTOCOL-HTTP2). Undefined when absent or malformed: the call is then bounded by the route's timeouts alone.
 */
export function parseGrpcTimeout(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string') return undefined;
  const match = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (match === null) return undefined;
  return Math.max(1, Math.ceil(Number(match[1]) * timeoutUnitsMs[match[2]!]!));
}

/** A `grpc-timeout` value for what is left of a deadline (ms), as the instance should get it. */
export function formatGrpcTimeout(ms: number): string {
  const whole = Math.max(1, Math.ceil(ms));
  return whole <= 99_999_999 ? `${whole}m` : `${Math.ceil(whole / 1_000)}S`;
}

/**
 * Answers a gRPC call that Switchyard itself fails in gRPC's shape, not problem+json: HTTP 200 and a Trailers-Only
 * response (one HEADERS frame with END_STREAM on HTTP/2) with `grpc-status`, `grpc-message` (the error's title, and
 * the detail) and `x-request-id`. Extra `headers` (Retry-After) are kept. On HTTP/1.1 (a gRPC-Web gateway's hop) the
 * same fields come as the head of an empty 200.
 */
export function sendGrpcError(
  res: ServerResponse,
  status: number,
  message: string,
  requestId: string | undefined,
  headers: readonly string[] = [],
): void {
  const fields: Record<string, string> = {
    'content-type': 'application/grpc',
    'grpc-status': String(status),
    'grpc-message': encodeGrpcMessage(message),
  };
  for (let i = 0; i + 1 < headers.length; i += 2) fields[headers[i]!.toLowerCase()] = headers[i + 1]!;
  if (requestId !== undefined) fields['x-request-id'] = requestId;
  grpcStatuses.set(res, status);
  const stream = (res as { stream?: ServerHttp2Stream }).stream;
  if (stream !== undefined && !stream.headersSent && !stream.destroyed) {
    // The compatibility API would send HEADERS, then an empty DATA frame to end the stream: gRPC clients then miss
    // the status (it is only read from a HEADERS frame that ends the stream). Answered on the stream itself.
    res.statusCode = 200;
    stream.respond({ ':status': 200, ...fields }, { endStream: true });
    return;
  }
  res.writeHead(200, { ...fields, 'content-length': '0' });
  res.end();
}
