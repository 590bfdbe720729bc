import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { accessFlags } from '../../core/access-entry.js';
import { proxyErrors, type ProxyError } from '../../core/errors.js';
import type { HttpAccessRecord } from '../downstream/access-records.js';
import type { RequestHead } from '../downstream/client-address.js';
import { sendProblem } from '../downstream/problem.js';
import type { RoutePolicies } from '../routing/route-policies.js';
import type { ServiceRuntime } from '../runtime.js';
import type { StickyClaim } from '../stickiness/sticky-keys.js';
import { issueStickyKey, stickyChoice } from '../stickiness/sticky-choice.js';
import { attemptPolicies, failureOf, problemFor, type RequestFacts } from '../upstream/attempt-policy.js';
import { UpstreamTries, type UpstreamAttempt } from '../upstream/attempt.js';
import type { GateWaiter } from '../upstream/endpoint-gate.js';
import type { Lease } from '../upstream/lease.js';
import { forwardResponseHeaders } from './forwarding-headers.js';
import { bufferBody, CHUNKED_PREFETCH_MS, prefetchBody } from './request-body.js';
import { BodyTooLargeError } from './route-actions.js';
import { cutResponse, forwardInformational, forwardTrailers } from './response-framing.js';
import { countGrpcStatus, isGrpcContentType, noteGrpcStatus, parseGrpcTimeout } from './grpc-status.js';
import { tlsFailureClass } from '../upstream/upstream-tls.js';

/**
 * Phases 8 to 12 of docs/lifecycle.md for one request routed to a service: prepare (retry budget, stickiness, the
 * body buffered or streamed), pick and dispatch through the upstream tries (attempt.ts), stream the response, end. An
 * undici dispatch handler on the raw-buffer API (no header object per response). It streams both ways with
 * back-pressure and turns every upstream failure into a status or, once the response has started, a closed client
 * connection (never a fake end).
 */
export class ProxyExchange implements Dispatcher.DispatchHandler, GateWaiter {
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
  #tries!: UpstreamTries;
  /** The try running now; ended (its lease released) on every path out of it. */
  #attempt: UpstreamAttempt | undefined;
  /** The valid stickiness key the client presented. */
  #claim: StickyClaim | undefined;
  #lastFailure: ProxyError | undefined;
  /** What the last failure's answer says beyond its title (the class of a TLS failure). */
  #lastDetail: string | undefined;
  readonly #startedAt = Date.now();
  /** A gRPC call's deadline (epoch ms) from `grpc-timeout`; undefined without one. */
  #deadline: number | undefined;
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

  /** Phase 8, prepare: the retry budget, stickiness' choice, and the body read whole or left to stream. */
  start(): void {
    this.#res.on('close', this.#onClientClose);
    const service = this.#service;
    const grpc = isGrpcContentType(this.#req.headers['content-type']);
    if (grpc) countGrpcStatus(this.#res, service.counters.grpcStatuses);
    service.retryBudget.deposit();
    let preferred;
    if (service.sticky !== undefined) {
      const choice = stickyChoice(service, service.sticky, this.#req.rawHeaders, this.#head.clientIp, Date.now());
      this.#claim = choice.claim;
      preferred = choice.endpoint;
    }
    this.#tries = new UpstreamTries(service, attemptPolicies.http, { preferred, hashKey: this.#hashKey });
    const length = this.#head.contentLength;
    const bufferBytes = service.snapshot.retries.bufferBytes;
    if (this.#head.hasBody && length !== undefined && length <= bufferBytes) {
      bufferBody(this.#req, length, (body) => {
        this.#body = body;
        if (!this.#clientGone) this.#dispatch();
      });
      return;
    }
    // A gRPC stream is never read ahead: its messages are the conversation (bidi), not a body to vet first.
    if (this.#head.hasBody && length === undefined && !grpc) {
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

  readonly #hashKey = (): string | undefined => this.#service.hashKey?.(this.#req.rawHeaders, this.#head, this.#path);

  /** Phase 9, pick (and admit): an endpoint with room now, a place in its queue, or the answer that none is left. */
  #dispatch(): void {
    const admission = this.#tries.admit(this);
    if (admission === 'queued') return;
    if (admission === 'queue-full') this.#overloaded(proxyErrors.upstreamOverflow);
    else if (admission === undefined) this.#fail(this.#lastFailure ?? this.#tries.nobodyProblem());
    else this.#send(admission);
  }

  /** The endpoint's queue let this request go (`GateWaiter`). */
  proceed(slot: Lease): void {
    this.#send(this.#tries.granted(slot));
  }

  /** The request waited `queueMs`: 503 with Retry-After, and no failure counted against the endpoint. */
  expire(): void {
    this.#tries.expired();
    this.#overloaded(proxyErrors.queueTimeout);
  }

  /** Phase 10, dispatch: the request goes to the attempt's endpoint pool. */
  #send(attempt: UpstreamAttempt): void {
    this.#attempt = attempt;
    this.#access?.attempt(attempt.endpoint.endpoint.id, attempt.sticky, attempt.retry);
    const timeouts = this.#service.snapshot.timeouts;
    const policies = this.#policies;
    const body = this.#body ?? this.#stream ?? (this.#head.hasBody ? this.#req : null);
    if (this.#body !== undefined) attempt.sent(this.#body.length);
    else if (this.#head.contentLength !== undefined) attempt.sent(this.#head.contentLength);
    attempt.endpoint.pool.dispatch(
      {
        path: this.#path,
        method: this.#req.method as Dispatcher.HttpMethod,
        headers: this.#head.headers,
        body,
        headersTimeout: this.#firstByteMs(policies?.firstByteMs ?? timeouts.firstByteMs),
        bodyTimeout: policies?.bodyIdleMs ?? timeouts.bodyIdleMs,
      },
      this,
    );
  }

  /** The response-head timeout, shortened to what is left of a gRPC call's `grpc-timeout` deadline. */
  #firstByteMs(configuredMs: number): number {
    const grpcMs = parseGrpcTimeout(this.#req.headers['grpc-timeout']);
    if (grpcMs === undefined) return configuredMs;
    this.#deadline ??= this.#startedAt + grpcMs;
    return Math.max(1, Math.min(configuredMs, this.#deadline - Date.now()));
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

  /** Phase 11, stream response: the head, measured, with the stickiness key and the route's header rules. */
  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) {
      // Informational (103 Early Hints): forwarded; the final response follows.
      forwardInformational(this.#res, statusCode, rawHeaders);
      return true;
    }
    const attempt = this.#attempt;
    attempt?.answer(statusCode, rawHeaders);
    this.#access?.answered(statusCode);
    const res = this.#res;
    if (res.destroyed) return false;
    try {
      const headers = forwardResponseHeaders(rawHeaders, this.#head.requestId);
      // A Trailers-Only gRPC answer carries its status in the head.
      for (let i = 0; i < headers.length; i += 2) if (headers[i] === 'grpc-status') noteGrpcStatus(res, headers[i + 1]);
      const sticky = this.#service.sticky;
      if (attempt !== undefined && sticky?.config.mode === 'key')
        issueStickyKey(headers, attempt.endpoint.endpoint.id, sticky, this.#claim, Date.now());
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
    this.#attempt?.received(chunk.length);
    if (this.#access !== undefined) this.#access.bodyBytesOut += chunk.length;
    if (res.write(chunk)) return true;
    if (!this.#awaitingDrain) {
      this.#awaitingDrain = true;
      res.once('drain', this.#onDrain);
    }
    return false;
  }

  /** Phase 12, end. */
  onComplete(trailers?: readonly (Buffer | string)[] | null): void {
    this.#attempt?.end();
    this.#done = true;
    const fields = forwardTrailers(this.#req, this.#res, trailers);
    if (fields !== undefined) noteGrpcStatus(this.#res, fields['grpc-status']);
    this.#res.end();
  }

  onError(error: Error): void {
    const attempt = this.#attempt;
    this.#attempt = undefined;
    if (attempt === undefined) return;
    if (error instanceof BodyTooLargeError && !this.#res.headersSent) {
      // The client's fault, not the endpoint's: no retry, no failure reported.
      attempt.end();
      this.#done = true;
      sendProblem(this.#res, proxyErrors.payloadTooLarge, this.#head.requestId, { close: true });
      return;
    }
    if (this.#res.headersSent && bodilessAnswer(this.#req.method, this.#res.statusCode, error)) {
      // undici fails a 204/304 that declares a Content-Length (legal on a 304, RFC 9110 §8.6) for its missing body and
      // drops the connection: the client's response is whole, so it ends normally.
      this.#attempt = attempt;
      this.onComplete(null);
      return;
    }
    if (this.#res.headersSent || this.#clientGone) {
      // Mid-body failure: close the client connection so a truncated body is never mistaken for a whole one.
      attempt.end();
      this.#done = true;
      if (this.#access !== undefined)
        this.#access.flag = this.#clientGone ? accessFlags.downstreamClosed : midBodyFlag(error);
      cutResponse(this.#res);
      return;
    }
    const kind = failureOf((error as { code?: string }).code ?? '');
    if (kind === 'local') {
      // Switchyard is out of file descriptors: its own overload, not a failure of the endpoint, and no retry.
      attempt.end();
      this.#overloaded(proxyErrors.localResources);
      return;
    }
    this.#lastFailure = problemFor(kind);
    this.#lastDetail = undefined;
    const tlsClass = tlsFailureClass(error);
    if (tlsClass !== undefined) {
      // The 502 names the class of TLS failure; the cause (which name, which CA) goes to the log only.
      this.#lastFailure = proxyErrors.upstreamTlsFailure;
      this.#lastDetail = tlsClass;
      this.#service.tlsFailures?.(this.#service.counters, attempt.endpoint.endpoint.id, tlsClass, error);
    }
    if (this.#tries.failed(attempt, kind, this.#requestFacts()) === 'another') this.#dispatch();
    else this.#fail(this.#lastFailure);
  }

  /** What the attempt policy needs to know of this request (a streamed body can go again only if nobody read it). */
  #requestFacts(): RequestFacts {
    const buffered = !this.#head.hasBody || this.#body !== undefined;
    return { method: this.#req.method, buffered, replayable: buffered || !this.#req.readableDidRead };
  }

  #fail(error: ProxyError): void {
    this.#done = true;
    const detail = error === this.#lastFailure ? this.#lastDetail : undefined;
    sendProblem(this.#res, error, this.#head.requestId, detail === undefined ? {} : { detail });
  }

  readonly #onDrain = (): void => {
    this.#awaitingDrain = false;
    this.#resume?.();
  };

  readonly #onClientClose = (): void => {
    if (this.#done) return;
    this.#clientGone = true;
    this.#tries.leaveQueue();
    if (this.#abort !== undefined) this.#abort(new Error('client closed the connection'));
    // Nothing dispatched yet to abort (the body was still being read): nothing else would end the try.
    else this.#attempt?.end();
  };
}

/** True for undici's length complaint about a response that has no body by definition (HEAD, 204, 304). */
function bodilessAnswer(method: string | undefined, status: number, error: Error): boolean {
  if ((error as { code?: string }).code !== 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') return false;
  return method === 'HEAD' || status === 204 || status === 304;
}

/** The access-log flag of an upstream failure after the response started: a body timeout, or the upstream's close. */
function midBodyFlag(error: Error): string {
  const code = (error as { code?: string }).code;
  return code === 'UND_ERR_BODY_TIMEOUT' ? proxyErrors.upstreamTimeout.flag : proxyErrors.upstreamReset.flag;
}
