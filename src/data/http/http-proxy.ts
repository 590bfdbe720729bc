import { pickEndpoint, reportFailure } from '../upstream/pick-endpoint.js';
import { hygieneProblem } from '../downstream/request-hygiene.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { EndpointId } from '../../core/endpoint.js';
import { proxyErrors, type ProxyError } from '../../core/errors.js';
import type { EndpointRuntime, ListenerRuntime, ServiceRuntime, StickyRuntime } from '../runtime.js';
import { PeakEwmaEstimator } from '../balancing/peak-ewma.js';
import type { StickyClaim } from '../stickiness/sticky-keys.js';
import { issueStickyKey, stickyChoice } from '../stickiness/sticky-choice.js';
import { forwardRequestHeaders, forwardResponseHeaders } from './forwarding-headers.js';
import { clientAddressOf, type RequestHead } from '../downstream/client-address.js';
import { sendProblem } from '../downstream/problem.js';
import type { GateTicket, GateWaiter } from '../upstream/endpoint-gate.js';
import { withinRateLimit } from '../overload/rate-limiter.js';
import { bufferBody, CHUNKED_PREFETCH_MS, prefetchBody } from './request-body.js';
import type { Readable } from 'node:stream';
import type { RoutePolicies } from '../routing/route-policies.js';
import { RequestRecord } from '../request-counters.js';
import { HttpAccessRecord } from '../downstream/access-records.js';
import { accessFlags } from '../../core/access-entry.js';
import { codeClassIndex, durationBucketIndex } from '../../core/traffic.js';
import {
  BodyTooLargeError,
  declaresTooLargeBody,
  routeRequest,
  sendFixedResponse,
  sendRedirect,
} from './route-actions.js';

/** Errors that mean nothing reached the upstream: the request may go to another endpoint whatever its method. */
const nothingSentCodes = new Set([
  'UND_ERR_CLOSED', // the endpoint's pool was closed by a newer snapshot before this request was written

  'ECONNREFUSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  // The instance's certificate failed verification (re-encryption): the handshake ended before any request byte.
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Failures before any response byte that an idempotent request may be retried after (RFC 9110 §9.2.2). */
const resetCodes = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);

/** Errors of the request itself, found before anything was sent: not the endpoint's fault, never retried. */
const requestFaultCodes = new Set([
  'UND_ERR_INVALID_ARG',
  'UND_ERR_NOT_SUPPORTED',
  'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
]);

/** Methods whose retry cannot do harm (CONTRACT.md §1). */
const idempotentMethods = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** Attempts per request on connect failure: the first endpoint and one other (CONTRACT.md §1). */
const maxAttempts = 2;

/**
 * Proxies one HTTP request through a listener's runtime: limits, forwarding headers, routing, then an exchange with
 * an upstream endpoint. Every outcome ends in a response or a closed connection; nothing is thrown.
 */
export function handleRequest(req: IncomingMessage, res: ServerResponse, listener: ListenerRuntime): void {
  // Counted as unrouted until a route takes it, whatever the outcome (a 4xx before routing included).
  const record = new RequestRecord(res, listener.requests.unrouted);
  if (listener.accessLog !== undefined) record.access = new HttpAccessRecord(listener.accessLog, req, res);
  if (listener.overload.shedding) {
    // The event loop lags: answered at once, before any routing or upstream work, so that the process catches up.
    listener.overload.counts.shed++;
    sendProblem(res, proxyErrors.overloaded, undefined, { headers: listener.overload.retryAfter });
    return;
  }
  const limits = listener.snapshot.limits;
  const target = req.url ?? '/';
  if (target.length > limits.targetBytes) {
    sendProblem(res, proxyErrors.uriTooLong, undefined, { close: true });
    return;
  }
  if (req.rawHeaders.length > limits.headerCount * 2) {
    sendProblem(res, proxyErrors.headersTooLarge, undefined, { close: true });
    return;
  }
  // HTTP/2 requests come from the TLS listener's HTTP/2 server (they carry their stream); an HTTP/1 port accepts 1.x.
  if (req.httpVersionMajor !== 1 && !('stream' in req)) {
    sendProblem(res, proxyErrors.badRequest, undefined, {
      detail: 'only HTTP/1.0 and HTTP/1.1 are accepted here',
      close: true,
    });
    return;
  }
  const hygiene = hygieneProblem(req, listener.snapshot);
  if (hygiene !== undefined) {
    sendProblem(res, hygiene.error, undefined, { detail: hygiene.detail, close: true });
    return;
  }
  const forwarded = forwardRequestHeaders(
    req.rawHeaders,
    clientAddressOf(req.socket),
    listener.proto,
    listener.trusted,
  );
  // HTTP/2 frames a body without Content-Length or Transfer-Encoding: there is one unless HEADERS ended the stream.
  const h2Body = 'stream' in req && forwarded.contentLength === undefined && !endedWithHeaders(req.stream);
  const head = h2Body ? { ...forwarded, hasBody: true } : forwarded;
  if (record.access !== undefined) record.access.head = head;
  if (head.duplicateHost || (head.host === undefined && req.httpVersionMinor === 1)) {
    const detail = head.duplicateHost ? 'more than one Host header' : 'an HTTP/1.1 request needs a Host header';
    sendProblem(res, proxyErrors.badRequest, head.requestId, { detail, close: true });
    return;
  }
  const path = target.charCodeAt(0) === 47 /* '/' */ ? target : originForm(target, req.method, head.host);
  if (path === undefined) {
    sendProblem(res, proxyErrors.badRequest, head.requestId, {
      detail: 'request target does not match Host',
      close: true,
    });
    return;
  }
  if (head.hasBody) watchBodyIdle(req, res, listener.snapshot.timeouts.bodyIdleMs);
  if (path === '*') {
    // `OPTIONS *` asks about the server, not a resource (RFC 9110 §9.3.7): Switchyard answers it; no route, no upstream.
    res.writeHead(200, ['content-length', '0', 'x-request-id', head.requestId]);
    res.end();
    return;
  }
  routeAndForward(req, res, listener, head, path, record);
}

/** True when an HTTP/2 request's HEADERS frame carried END_STREAM (no body follows). */
function endedWithHeaders(stream: unknown): boolean {
  return (stream as { endAfterHeaders?: boolean } | undefined)?.endAfterHeaders === true;
}

/**
 * Routes a request that passed the checks (on its normalised path, CONTRACT.md §3) and carries out the route's action:
 * a fixed response, a redirect, or the exchange with its service (rewritten path, header rules, timeouts, body limit).
 */
function routeAndForward(
  req: IncomingMessage,
  res: ServerResponse,
  listener: ListenerRuntime,
  head: RequestHead,
  target: string,
  record: RequestRecord,
): void {
  const { requestId } = head;
  const decision = routeRequest(listener.routes, {
    target,
    method: req.method ?? 'GET',
    host: head.host,
    rawHeaders: req.rawHeaders,
    clientIp: head.clientIp,
  });
  if (decision.kind !== 'route') {
    if (decision.kind === 'none') sendProblem(res, proxyErrors.noRoute, requestId);
    else sendProblem(res, proxyErrors.invalidPath, requestId, { detail: decision.reason, close: true });
    return;
  }
  const { route, path, query } = decision;
  record.counters = listener.requests.byRank[route.rank] ?? record.counters;
  if (record.access !== undefined) record.access.route = route.route;
  const policies = route.policies;
  if (route.route.rateLimit !== undefined && !withinRateLimit(listener.overload, route.route.name, req, res, head))
    return;
  if (declaresTooLargeBody(head.contentLength, policies)) {
    sendProblem(res, proxyErrors.payloadTooLarge, requestId, { close: true });
    return;
  }
  if (policies.respond !== undefined) {
    sendFixedResponse(res, policies, requestId);
    return;
  }
  if (policies.redirect !== undefined) {
    const source = { scheme: listener.proto, host: head.host, path, query };
    if (!sendRedirect(res, policies, source, requestId))
      sendProblem(res, proxyErrors.badRequest, requestId, { detail: 'this redirect needs a Host header' });
    return;
  }
  const service = route.route.service === undefined ? undefined : listener.services.get(route.route.service);
  if (service === undefined) {
    sendProblem(res, proxyErrors.noEndpoint, requestId);
    return;
  }
  const forwarded =
    policies.requestHeaders === undefined ? head : { ...head, headers: policies.requestHeaders.apply(head.headers) };
  new ProxyExchange(req, res, service, forwarded, decision.target, policies, record.access).start();
}

/** A request body that pauses longer than `idleMs` gets 408 (or a closed connection once a response started). */
function watchBodyIdle(req: IncomingMessage, res: ServerResponse, idleMs: number): void {
  req.setTimeout(idleMs, () => {
    sendProblem(res, proxyErrors.requestTimeout, undefined, { detail: 'request body stalled', close: true });
    // On HTTP/2 the stream ends with the response; on HTTP/1.1 the connection goes once the 408 is out.
    if (!('stream' in req)) req.socket.destroySoon();
  });
  // Once the body is in, the socket's timeout belongs to Node's keep-alive handling again.
  if (!('stream' in req)) req.once('end', () => req.socket.setTimeout(0));
}

/**
 * The origin-form target of an absolute-form (`http://host/path`) or asterisk-form request. Absolute-form must name
 * the same authority as `Host` (CONTRACT.md §3); anything else is undefined (400).
 */
function originForm(target: string, method: string | undefined, host: string | undefined): string | undefined {
  if (target === '*') return method === 'OPTIONS' ? '*' : undefined;
  if (!/^https?:\/\//i.test(target) || !URL.canParse(target)) return undefined;
  const url = new URL(target);
  if (host === undefined || url.host !== host.toLowerCase()) return undefined;
  return `${url.pathname}${url.search}`;
}

/**
 * One request's conversation with the upstream, as an undici dispatch handler (the raw-buffer handler API: no
 * header object is built per response). It streams both ways with back-pressure, retries within the service's
 * budget (CONTRACT.md §1), reports gateway errors to the control plane, and turns every upstream failure into a
 * status or, once the response has started, a closed client connection (never a fake end).
 */
class ProxyExchange implements Dispatcher.DispatchHandler, GateWaiter {
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #service: ServiceRuntime;
  readonly #head: RequestHead;
  readonly #path: string;
  /** The route's timeouts, body limit and response header rules (routing/route-policies.ts). */
  readonly #policies: RoutePolicies | undefined;
  /** The request body when it was buffered (small enough to replay); undefined when streamed or absent. */
  #body: Buffer | undefined;
  /** A chunked body too long or too slow to buffer: what was read ahead, then the rest, already counted. */
  #stream: Readable | undefined;
  #endpoint: EndpointRuntime | undefined;
  #tried: Set<EndpointId> | undefined;
  /** The endpoint whose queue let this request go (`proceed`): `#dispatch` sends it there. */
  #granted: EndpointRuntime | undefined;
  /** While the request waits in an endpoint's queue: its place, and that endpoint. */
  #ticket: GateTicket | undefined;
  #queuedAt: EndpointRuntime | undefined;
  /** When the current attempt was sent (epoch ms), for latency-aware balancing and the endpoint's latency buckets. */
  #sentAt = 0;
  /** The endpoint stickiness chose for the first attempt. */
  #preferred: EndpointRuntime | undefined;
  /** The valid stickiness key the client presented. */
  #claim: StickyClaim | undefined;
  #lastFailure: ProxyError | undefined;
  /** The current attempt got a response head (else it counts as an upstream answer of class `none`). */
  #answered = false;
  #abort: ((error?: Error) => void) | undefined;
  #resume: (() => void) | undefined;
  #awaitingDrain = false;
  #clientGone = false;
  #done = false;
  /** What the access log learns of this exchange; undefined when it is off. */
  readonly #access: HttpAccessRecord | undefined;

  constructor(
    req: IncomingMessage,
    res: ServerResponse,
    service: ServiceRuntime,
    head: RequestHead,
    path: string,
    policies?: RoutePolicies,
    access?: HttpAccessRecord,
  ) {
    this.#req = req;
    this.#res = res;
    this.#service = service;
    this.#head = head;
    this.#path = path;
    this.#policies = policies;
    this.#access = access;
  }

  start(): void {
    this.#res.on('close', this.#onClientClose);
    this.#service.retryBudget.deposit();
    if (this.#service.sticky !== undefined) this.#preferred = this.#stickyChoice(this.#service.sticky);
    const length = this.#head.contentLength;
    const bufferBytes = this.#service.snapshot.retries.bufferBytes;
    if (this.#head.hasBody && length !== undefined && length <= bufferBytes) {
      bufferBody(this.#req, length, (body) => {
        this.#body = body;
        if (!this.#clientGone) this.#dispatch();
      });
      return;
    }
    if (this.#head.hasBody && length === undefined) {
      // A chunked body is read ahead so broken framing is refused before the instance sees even the head.
      prefetchBody(this.#req, bufferBytes, CHUNKED_PREFETCH_MS, this.#policies?.maxBodyBytes).then(
        (body) => {
          if ('whole' in body) this.#body = body.whole;
          else this.#stream = body.stream;
          if (!this.#clientGone) this.#dispatch();
        },
        (error: unknown) => {
          if (error instanceof BodyTooLargeError && !this.#clientGone) {
            this.#done = true;
            sendProblem(this.#res, proxyErrors.payloadTooLarge, this.#head.requestId, { close: true });
          }
          // Otherwise the client's framing broke or it left: the listener answers 400 (or nobody is there).
        },
      );
      return;
    }
    this.#dispatch();
  }

  /**
   * The endpoint stickiness asks for: the one a valid key names, or the hash of the client address or application
   * cookie; undefined (and a new key later) when there is none or it may no longer take this client.
   */
  #stickyChoice(sticky: StickyRuntime): EndpointRuntime | undefined {
    const choice = stickyChoice(this.#service, sticky, this.#req.rawHeaders, this.#head.clientIp, Date.now());
    this.#claim = choice.claim;
    return choice.endpoint;
  }

  readonly #hashKey = (): string | undefined => this.#service.hashKey?.(this.#req.rawHeaders, this.#head, this.#path);

  #dispatch(): void {
    const preferred = this.#tried === undefined ? this.#preferred : undefined;
    let runtime = this.#granted ?? pickEndpoint(this.#service, this.#preferred, this.#tried, this.#hashKey);
    if (runtime === undefined) {
      // After a failed attempt with nobody left to try, the client learns what went wrong with that attempt.
      this.#fail(this.#lastFailure ?? proxyErrors.noEndpoint);
      return;
    }
    if (this.#granted !== undefined) this.#granted = undefined;
    else if (!runtime.gate.free) {
      // Every connection to it is busy: another endpoint with a free one (not for a sticky client), else its queue.
      if (preferred === undefined) runtime = this.#freeEndpoint(runtime);
      if (!runtime.gate.free) {
        this.#wait(runtime);
        return;
      }
    }
    runtime.gate.active++;
    this.#endpoint = runtime;
    this.#answered = false;
    if (this.#access !== undefined)
      this.#access.attempt(runtime.endpoint.id, preferred !== undefined, this.#tried !== undefined);
    if (this.#tried !== undefined) this.#service.counters.retries++;
    this.#sentAt = Date.now();
    runtime.load.inFlight++;
    runtime.load.requests++;
    if (preferred !== undefined) runtime.load.stickyRequests++;
    const timeouts = this.#service.snapshot.timeouts;
    const policies = this.#policies;
    runtime.pool.dispatch(
      {
        path: this.#path,
        method: this.#req.method as Dispatcher.HttpMethod,
        headers: this.#head.headers,
        body: this.#body ?? this.#stream ?? (this.#head.hasBody ? this.#req : null),
        headersTimeout: policies?.firstByteMs ?? timeouts.firstByteMs,
        bodyTimeout: policies?.bodyIdleMs ?? timeouts.bodyIdleMs,
      },
      this,
    );
  }

  /** The first endpoint with a free connection in the algorithm's order (tried ones left out); else `full`. */
  #freeEndpoint(full: EndpointRuntime): EndpointRuntime {
    const skip = new Set(this.#tried);
    skip.add(full.endpoint.id);
    for (let left = this.#service.endpoints.size - 1; left > 0; left--) {
      const next = pickEndpoint(this.#service, undefined, skip, this.#hashKey);
      if (next === undefined) break;
      if (next.gate.free) return next;
      skip.add(next.endpoint.id);
    }
    return full;
  }

  /** Waits in the endpoint's queue (`maxPendingPerEndpoint`, `queueMs`); a full queue is answered 503 at once. */
  #wait(runtime: EndpointRuntime): void {
    const { maxPendingPerEndpoint, timeouts } = this.#service.snapshot;
    const ticket = runtime.gate.enqueue(this, maxPendingPerEndpoint, timeouts.queueMs);
    if (ticket === undefined) {
      this.#service.overload.counts.queueFull++;
      this.#overloaded(proxyErrors.upstreamOverflow);
      return;
    }
    this.#ticket = ticket;
    this.#queuedAt = runtime;
  }

  /** A connection to the endpoint freed up: the request goes there now. */
  proceed(): void {
    this.#granted = this.#queuedAt;
    this.#ticket = undefined;
    this.#queuedAt = undefined;
    this.#dispatch();
  }

  /** The request waited `queueMs`: 503 with Retry-After, and no failure counted against the endpoint. */
  expire(): void {
    this.#ticket = undefined;
    this.#queuedAt = undefined;
    this.#service.overload.counts.queueTimeout++;
    this.#overloaded(proxyErrors.queueTimeout);
  }

  /** A 503 for overload (a queue, or the process out of descriptors), with Retry-After. */
  #overloaded(error: ProxyError): void {
    this.#done = true;
    sendProblem(this.#res, error, this.#head.requestId, { headers: this.#service.overload.retryAfter });
  }

  onConnect(abort: (error?: Error) => void): void {
    this.#abort = abort;
    if (this.#clientGone) abort(new Error('client closed the connection'));
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true; // informational (103): the final response follows
    if (this.#endpoint !== undefined) this.#endpoint.load.responses[codeClassIndex(statusCode)]!++;
    this.#answered = true;
    if (this.#access !== undefined) this.#access.answered(statusCode);
    const res = this.#res;
    if (res.destroyed) return false;
    const endpoint = this.#endpoint;
    if (endpoint !== undefined) {
      if (statusCode >= 502 && statusCode <= 504) reportFailure(this.#service, endpoint);
      else endpoint.load.consecutiveErrors = 0;
      if (this.#service.measures !== undefined) this.#measure(endpoint, rawHeaders, this.#service.measures);
    }
    try {
      const headers = forwardResponseHeaders(rawHeaders, this.#head.requestId);
      if (endpoint !== undefined && this.#service.sticky?.config.mode === 'key')
        this.#issueKey(headers, endpoint, this.#service.sticky);
      const rules = this.#policies?.responseHeaders;
      res.writeHead(statusCode, rules === undefined ? headers : rules.apply(headers));
    } catch {
      // A header Node refuses to send (invalid characters): the response cannot be relayed faithfully.
      this.#abort?.(new Error('invalid upstream response header'));
      return false;
    }
    this.#resume = resume;
    return true;
  }

  onData(chunk: Buffer): boolean {
    const res = this.#res;
    // A destroyed response never emits 'drain' (perf-notes trap 1): the close handler aborts the upstream instead.
    if (res.destroyed) return false;
    if (this.#access !== undefined) this.#access.bodyBytesOut += chunk.length;
    if (res.write(chunk)) return true;
    if (!this.#awaitingDrain) {
      this.#awaitingDrain = true;
      res.once('drain', this.#onDrain);
    }
    return false;
  }

  onComplete(): void {
    this.#release();
    this.#done = true;
    this.#res.end();
  }

  onError(error: Error): void {
    const endpoint = this.#release();
    if (error instanceof BodyTooLargeError && !this.#res.headersSent) {
      // The client's fault, not the endpoint's: no retry, no failure reported.
      this.#done = true;
      sendProblem(this.#res, proxyErrors.payloadTooLarge, this.#head.requestId, { close: true });
      return;
    }
    if (this.#res.headersSent || this.#clientGone) {
      // Mid-body failure: close the client connection so a truncated body is never mistaken for a whole one.
      this.#done = true;
      if (this.#access !== undefined)
        this.#access.flag = this.#clientGone ? accessFlags.downstreamClosed : midBodyFlag(error);
      this.#res.destroy();
      return;
    }
    const code = (error as { code?: string }).code ?? '';
    if (code === 'EMFILE' || code === 'ENFILE') {
      // Switchyard is out of file descriptors: its own overload, not a failure of the endpoint, and no retry.
      this.#overloaded(proxyErrors.localResources);
      return;
    }
    this.#lastFailure = errorFor(code);
    if (endpoint !== undefined) {
      // A request undici refuses to send (an invalid argument) says nothing about the endpoint's health.
      if (!requestFaultCodes.has(code)) reportFailure(this.#service, endpoint);
      (this.#tried ??= new Set()).add(endpoint.endpoint.id);
      if (this.#tried.size < maxAttempts && this.#mayRetry(code) && this.#withinBudget(code)) {
        this.#dispatch();
        return;
      }
    }
    this.#fail(this.#lastFailure);
  }

  /**
   * A connect failure sent nothing, so any method may be retried; a reset before the response (such as an instance
   * closing an idle keep-alive connection just as the request was written) only for idempotent methods. A streamed
   * body can go again only if nobody read it yet; a buffered one always can.
   */
  #mayRetry(code: string): boolean {
    const replayable = !this.#head.hasBody || this.#body !== undefined || !this.#req.readableDidRead;
    if (!replayable) return false;
    if (nothingSentCodes.has(code)) return true;
    return (
      resetCodes.has(code) &&
      idempotentMethods.has(this.#req.method ?? '') &&
      (!this.#head.hasBody || this.#body !== undefined)
    );
  }

  /**
   * A connect failure reached nobody, so its one retry on another endpoint is always allowed (CONTRACT.md §1); a retry
   * after a reset may land on a struggling pool, so it is taken from the service's budget.
   */
  #withinBudget(code: string): boolean {
    if (nothingSentCodes.has(code)) return true;
    const { budgetPercent, minRetries } = this.#service.snapshot.retries;
    return this.#service.retryBudget.withdraw(budgetPercent, minRetries);
  }

  /**
   * Hands the client a key for the endpoint that answered, unless it presented a valid key for that very endpoint
   * with more than half its life left (so keys are renewed while the client keeps coming, not on every response).
   */
  #issueKey(headers: string[], endpoint: EndpointRuntime, sticky: StickyRuntime): void {
    issueStickyKey(headers, endpoint.endpoint.id, sticky, this.#claim, Date.now());
  }

  /** Feeds load-aware algorithms: the time to the response head (peak-ewma), the instance's `X-Load` (least-load). */
  #measure(endpoint: EndpointRuntime, rawHeaders: readonly Buffer[], measures: 'latency' | 'load'): void {
    const now = Date.now();
    if (measures === 'latency') {
      endpoint.load.latency ??= new PeakEwmaEstimator(this.#service.snapshot.balancing.peakEwma.decayMs);
      endpoint.load.latency.observe(now - this.#sentAt, now);
      return;
    }
    for (let i = 0; i < rawHeaders.length; i += 2) {
      if (rawHeaders[i]!.length !== 6 || rawHeaders[i]!.toString('latin1').toLowerCase() !== 'x-load') continue;
      const load = Number(rawHeaders[i + 1]!.toString('latin1'));
      if (Number.isFinite(load) && load >= 0) {
        endpoint.load.reportedLoad = load;
        endpoint.load.reportedAt = now;
      }
      return;
    }
  }

  #fail(error: ProxyError): void {
    this.#done = true;
    sendProblem(this.#res, error, this.#head.requestId);
  }

  #release(): EndpointRuntime | undefined {
    const endpoint = this.#endpoint;
    if (endpoint !== undefined) {
      endpoint.load.inFlight--;
      if (!this.#answered) endpoint.load.responses[0]!++;
      else endpoint.load.durationBuckets[durationBucketIndex((Date.now() - this.#sentAt) / 1000)]!++;
      this.#endpoint = undefined;
      endpoint.gate.release();
    }
    return endpoint;
  }

  readonly #onDrain = (): void => {
    this.#awaitingDrain = false;
    this.#resume?.();
  };

  readonly #onClientClose = (): void => {
    if (this.#done) return;
    this.#clientGone = true;
    if (this.#ticket !== undefined) this.#queuedAt?.gate.cancel(this.#ticket);
    this.#abort?.(new Error('client closed the connection'));
  };
}

/** The access-log flag of an upstream failure after the response started: a body timeout, or the upstream's close. */
function midBodyFlag(error: Error): string {
  const code = (error as { code?: string }).code;
  return code === 'UND_ERR_BODY_TIMEOUT' ? proxyErrors.upstreamTimeout.flag : proxyErrors.upstreamReset.flag;
}

function errorFor(code: string): ProxyError {
  if (nothingSentCodes.has(code)) return proxyErrors.connectFailure;
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return proxyErrors.upstreamTimeout;
  return proxyErrors.upstreamReset;
}
