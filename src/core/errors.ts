/**
 * The one table of errors Switchyard answers with: a stable code, an HTTP status, a title for the problem document
 * (RFC 9457) and the Envoy-style access-log flag. Nothing else in the code invents a status.
 */
export const proxyErrors = {
  noRoute: { code: 'no_route', status: 404, title: 'No route matches this request', flag: 'NR' },
  noEndpoint: { code: 'no_healthy_endpoint', status: 503, title: 'No healthy endpoint is available', flag: 'UH' },
  /** The service has no endpoint at all (none configured, registered or discovered), healthy or not. */
  noEndpointRegistered: {
    code: 'no_endpoint_registered',
    status: 503,
    title: 'No endpoint is registered for this service',
    flag: 'UH',
  },
  connectFailure: {
    code: 'upstream_connect_failure',
    status: 502,
    title: 'The upstream could not be reached',
    flag: 'UF',
  },
  upstreamReset: { code: 'upstream_reset', status: 502, title: 'The upstream closed the connection', flag: 'UC' },
  upstreamTimeout: { code: 'upstream_timeout', status: 504, title: 'The upstream did not answer in time', flag: 'UT' },
  upstreamProtocolError: {
    code: 'upstream_protocol_error',
    status: 502,
    title: 'The upstream answered outside the protocol',
    flag: 'UPE',
  },
  upstreamTlsFailure: {
    code: 'upstream_tls_failure',
    status: 502,
    title: 'The TLS handshake with the upstream failed',
    flag: 'UF',
  },
  methodNotAllowed: { code: 'method_not_allowed', status: 405, title: 'This method is not served here', flag: 'DPE' },
  badRequest: { code: 'bad_request', status: 400, title: 'The request is malformed', flag: 'DPE' },
  invalidPath: {
    code: 'invalid_path',
    status: 400,
    title: 'The request path is not accepted (encoded slash, malformed escape or similar)',
    flag: 'DPE',
  },
  requestTimeout: { code: 'request_timeout', status: 408, title: 'The request was not received in time', flag: 'DT' },
  payloadTooLarge: { code: 'payload_too_large', status: 413, title: 'The request body is too large', flag: 'DPE' },
  expectationFailed: {
    code: 'expectation_failed',
    status: 417,
    title: 'The Expect header is not supported',
    flag: 'DPE',
  },
  uriTooLong: { code: 'uri_too_long', status: 414, title: 'The request target is too long', flag: 'DPE' },
  headersTooLarge: {
    code: 'request_header_fields_too_large',
    status: 431,
    title: 'The request header block is too large or has too many fields',
    flag: 'DPE',
  },
  // Overload protection (docs/operations.md): each answered with Retry-After; none counts against an endpoint.
  tooManyConnections: {
    code: 'too_many_connections',
    status: 503,
    title: 'The listener has too many open connections',
    flag: 'OM',
  },
  overloaded: { code: 'overloaded', status: 503, title: 'Switchyard is overloaded', flag: 'OM' },
  upstreamOverflow: {
    code: 'upstream_overflow',
    status: 503,
    title: 'Too many requests are waiting for a connection to the upstream',
    flag: 'UO',
  },
  queueTimeout: {
    code: 'upstream_queue_timeout',
    status: 503,
    title: 'No connection to the upstream became free in time',
    flag: 'UO',
  },
  localResources: {
    code: 'local_resources_exhausted',
    status: 503,
    title: 'Switchyard is out of file descriptors or sockets',
    flag: 'OM',
  },
  rateLimited: { code: 'rate_limited', status: 429, title: 'Too many requests', flag: 'RL' },
} as const;

export type ProxyErrorName = keyof typeof proxyErrors;
export type ProxyError = (typeof proxyErrors)[ProxyErrorName];

/** Serialises a problem+json document (RFC 9457) for an error of the table. */
export function problemJson(error: ProxyError, requestId?: string, detail?: string): string {
  return JSON.stringify({
    type: `https://switchyard.dev/problems/${error.code}`,
    title: error.title,
    status: error.status,
    ...(detail === undefined ? {} : { detail }),
    ...(requestId === undefined ? {} : { instance: `urn:request:${requestId}` }),
  });
}

/** Thrown for a usage or configuration problem the CLI reports without a stack trace. */
export class SwitchyardError extends Error {
  constructor(
    message: string,
    /** Process exit code the CLI should use (1 start/config failure, 2 usage). */
    readonly exitCode = 1,
    /** Each problem on its own (`file:line:col path: message` for a config file). */
    readonly problems: readonly string[] = [message],
  ) {
    super(message);
    this.name = 'SwitchyardError';
  }
}
