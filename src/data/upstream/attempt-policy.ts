import { proxyErrors, type ProxyError } from '../../core/errors.js';

/**
 * How many endpoints one request, tunnel, connection or session may try, and which failures move it on to another
 * (docs/guarantees.md §1). One policy per protocol; the upstream attempt (attempt.ts) applies it, the protocol code
 * only says how its try ended.
 */
export interface AttemptPolicy {
  /** Endpoints tried at most (the first one included); a failure on the last one is answered to the client. */
  readonly maxEndpoints: number;
  /**
   * Whether a reset before any response byte moves an idempotent, replayable request on (within the retry budget).
   * Only HTTP requests: a tunnel or L4 stream may already have been acted on.
   */
  readonly retriesResets: boolean;
  /**
   * HTTP requests count their answers (`switchyard_upstream_requests_total`), their durations and their retries
   * (`switchyard_retries_total`); tunnels, connections and sessions count in flight and bytes only.
   */
  readonly countsRequests: boolean;
}

/** The attempt policy of each protocol. */
export const attemptPolicies = {
  /** The first endpoint and one other (docs/guarantees.md §1). */
  http: { maxEndpoints: 2, retriesResets: true, countsRequests: true },
  /** A WebSocket handshake: another endpoint once if the connect fails; nothing sent, nothing repeated. */
  websocket: { maxEndpoints: 2, retriesResets: false, countsRequests: false },
  /** A TCP connection: a connect failure or timeout moves on, up to three endpoints; the client notices nothing. */
  tcp: { maxEndpoints: 3, retriesResets: false, countsRequests: false },
  /** A UDP session picks once: an ICMP refusal ends the session and the client's next datagram picks anew. */
  udp: { maxEndpoints: 1, retriesResets: false, countsRequests: false },
} as const satisfies Record<string, AttemptPolicy>;

/**
 * How a try failed, as the policy sees it:
 * - `nothing-sent`: no byte reached the endpoint (refused, unreachable, connect timeout, a certificate that failed
 *   verification, a pool closed by a newer snapshot before the request was written);
 * - `reset`: the connection broke before any response byte (the instance may or may not have seen the request);
 * - `timeout`: no response head within `firstByteMs`;
 * - `request-fault`: the request itself could not be sent (not the endpoint's fault: no failure reported);
 * - `local`: Switchyard is out of file descriptors (its own overload: no failure reported, no retry);
 * - `other`: anything else (never moves on).
 */
export type FailureKind = 'nothing-sent' | 'reset' | 'timeout' | 'request-fault' | 'local' | 'other';

const nothingSentCodes = new Set([
  'UND_ERR_CLOSED',
  'ECONNREFUSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  // HTTP/2 (http2-pool.ts): the instance refused the stream unprocessed, or did not choose h2 by ALPN.
  'SY_H2_REFUSED_STREAM',
  'SY_H2_ALPN_REFUSED',
]);

const resetCodes = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);

const requestFaultCodes = new Set([
  'UND_ERR_INVALID_ARG',
  'UND_ERR_NOT_SUPPORTED',
  'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
]);

/** The kind of failure an error code (Node's or undici's) stands for. */
export function failureOf(code: string): FailureKind {
  if (nothingSentCodes.has(code)) return 'nothing-sent';
  if (resetCodes.has(code)) return 'reset';
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return 'timeout';
  if (requestFaultCodes.has(code)) return 'request-fault';
  if (code === 'EMFILE' || code === 'ENFILE') return 'local';
  return 'other';
}

/** Whether a failure of this kind counts against the endpoint (passive health, outlier detection). */
export function reportsFailure(kind: FailureKind): boolean {
  return kind !== 'request-fault' && kind !== 'local';
}

/** What the client is answered when a failure of this kind is the last one. */
export function problemFor(kind: FailureKind): ProxyError {
  switch (kind) {
    case 'nothing-sent':
      return proxyErrors.connectFailure;
    case 'timeout':
      return proxyErrors.upstreamTimeout;
    case 'local':
      return proxyErrors.localResources;
    default:
      return proxyErrors.upstreamReset;
  }
}

/** Methods whose retry cannot do harm (RFC 9110 §9.2.2, docs/guarantees.md §1). */
const idempotentMethods = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** What the policy needs to know of the request that failed (tunnels and L4 streams: `anyRequest`). */
export interface RequestFacts {
  /** The method; undefined for a tunnel or an L4 stream. */
  readonly method?: string | undefined;
  /** The body (if any) can be sent again: buffered, or not read by anyone yet. */
  readonly replayable: boolean;
  /** The body (if any) is kept whole in memory. */
  readonly buffered: boolean;
}

/** The facts of a request without a body (and of every tunnel or L4 stream: only `nothing-sent` moves those on). */
export const anyRequest: RequestFacts = { replayable: true, buffered: true };

/** After a failed try: try another endpoint, do so only within the retry budget, or answer the client. */
export type NextStep = 'another' | 'another-within-budget' | 'answer';

/**
 * The step after a try failed with `kind`, `tried` endpoints having been tried (this one included). A failure that
 * sent nothing may move on whatever the method, if the body can be sent again; a reset before the response only for
 * an idempotent method whose body (if any) is buffered, and only within the service's retry budget.
 */
export function nextStep(policy: AttemptPolicy, tried: number, kind: FailureKind, request: RequestFacts): NextStep {
  if (tried >= policy.maxEndpoints || !request.replayable) return 'answer';
  if (kind === 'nothing-sent') return 'another';
  if (
    kind === 'reset' &&
    policy.retriesResets &&
    request.buffered &&
    request.method !== undefined &&
    idempotentMethods.has(request.method)
  )
    return 'another-within-budget';
  return 'answer';
}
