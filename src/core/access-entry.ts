/**
 * One access-log line as plain data: what the data plane knows about a finished HTTP request, WebSocket tunnel, L4
 * connection or UDP session. The data plane fills it in when the exchange ends; `observability/access-log.ts` samples,
 * redacts and formats it (docs/observability.md documents every field).
 */
export interface AccessEntry {
  /** When the request (or connection, or session) began, epoch ms. */
  readonly time: number;
  readonly requestId: string | undefined;
  /** The client address: the right-most untrusted hop (HTTP), the PROXY protocol source, or the peer. */
  readonly clientIp: string;
  /** Undefined for L4 lines. */
  readonly method: string | undefined;
  /** The Host (`:authority` on HTTP/2); the SNI server name on `tls` lines. */
  readonly host: string | undefined;
  /** The request target as the client sent it. */
  readonly path: string | undefined;
  /** `HTTP/1.0`, `HTTP/1.1`, `HTTP/2.0` (a WebSocket tunnel is `HTTP/1.1` with status 101), `tcp`, `tls` or `udp`. */
  readonly protocol: string;
  /** The status sent to the client; 0 when none was (the client left first, or an L4 line). */
  readonly status: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly durationMs: number;
  readonly route: string | undefined;
  readonly service: string | undefined;
  /** The endpoint id of the last attempt. */
  readonly endpoint: string | undefined;
  /** The status the endpoint answered with; undefined when it gave no response head. */
  readonly upstreamStatus: number | undefined;
  /** From sending the last attempt to its response head (time to first byte), ms. */
  readonly upstreamDurationMs: number | undefined;
  /** Attempts after the first (each on another endpoint). */
  readonly retries: number;
  /** Stickiness chose the endpoint that was used (a valid key, or the hash of the client address or cookie). */
  readonly sticky: boolean;
  /** Envoy-style response flags joined by `,` (`accessFlags`); empty when there are none. */
  readonly flags: string;
  /** The grpc-status a gRPC call ended with (the instance's, or Switchyard's own); undefined for other requests. */
  readonly grpcStatus?: number | undefined;
  /** Only read when the format or `fields` asks for them. */
  readonly userAgent?: string | undefined;
  readonly referer?: string | undefined;
}

/**
 * The fields of a JSON line, in the order they are written: SPEC.md "On the wire" (the default), then the optional
 * ones a `fields` list may add.
 */
export const accessLogFields = [
  'time',
  'request_id',
  'client_ip',
  'method',
  'host',
  'path',
  'protocol',
  'status',
  'bytes_in',
  'bytes_out',
  'duration_ms',
  'route',
  'service',
  'endpoint',
  'upstream_status',
  'upstream_duration_ms',
  'retries',
  'sticky',
  'flags',
  'grpc_status',
  'user_agent',
  'referer',
] as const;

export type AccessLogField = (typeof accessLogFields)[number];

/** The fields written when no `fields` list is configured: SPEC.md's, without the optional headers. */
export const defaultAccessLogFields: readonly AccessLogField[] = accessLogFields.filter(
  (field) => field !== 'user_agent' && field !== 'referer',
);

/**
 * Response flags beyond the error table's (`proxyErrors[…].flag`: NR, UH, UF, UC, UT, DPE, DT), following Envoy's
 * names: the client closed the connection before the whole response was sent (`DC`).
 */
export const accessFlags = { downstreamClosed: 'DC' } as const;
