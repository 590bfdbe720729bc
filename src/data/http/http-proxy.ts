import type { IncomingMessage, ServerResponse } from 'node:http';
import { proxyErrors } from '../../core/errors.js';
import { clientAddressOf, type RequestHead } from '../downstream/client-address.js';
import { sendProblem } from '../downstream/problem.js';
import { hygieneProblem } from '../downstream/request-hygiene.js';
import { HttpAccessRecord } from '../downstream/access-records.js';
import { RequestRecord } from '../request-counters.js';
import type { ListenerRuntime } from '../runtime.js';
import { forwardRequestHeaders } from './forwarding-headers.js';
import { ProxyExchange } from './proxy-exchange.js';
import { withinRateLimit } from './rate-limit-step.js';
import { declaresTooLargeBody, routeRequest, sendFixedResponse, sendRedirect } from './route-actions.js';

/**
 * Proxies one HTTP request through a listener's runtime, phase by phase as docs/lifecycle.md draws them: header
 * limits (2), hygiene (3), forwarding headers (4), then path, route and route action (5–7) and, for a service, the
 * exchange with an upstream endpoint (8–12, proxy-exchange.ts). Every outcome ends in a response or a closed
 * connection; nothing is thrown.
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
  if (!withinHeaderLimits(req, res, listener) || !passesHygiene(req, res, listener)) return;
  const forwarded = forwardingHeaders(req, res, listener, record);
  if (forwarded === undefined) return;
  if (forwarded.path === '*') {
    // `OPTIONS *` asks about the server, not a resource (RFC 9110 §9.3.7): Switchyard answers it; no route, no upstream.
    res.writeHead(200, ['content-length', '0', 'x-request-id', forwarded.head.requestId]);
    res.end();
    return;
  }
  routeAndForward(req, res, listener, forwarded.head, forwarded.path, record);
}

/** Phase 2, header limits: the target's length and the number of header fields (and the HTTP version). */
function withinHeaderLimits(req: IncomingMessage, res: ServerResponse, listener: ListenerRuntime): boolean {
  const limits = listener.snapshot.limits;
  if ((req.url ?? '/').length > limits.targetBytes) {
    sendProblem(res, proxyErrors.uriTooLong, undefined, { close: true });
    return false;
  }
  if (req.rawHeaders.length > limits.headerCount * 2) {
    sendProblem(res, proxyErrors.headersTooLarge, undefined, { close: true });
    return false;
  }
  // HTTP/2 requests come from the TLS listener's HTTP/2 server (they carry their stream); an HTTP/1 port accepts 1.x.
  if (req.httpVersionMajor !== 1 && !('stream' in req)) {
    sendProblem(res, proxyErrors.badRequest, undefined, {
      detail: 'only HTTP/1.0 and HTTP/1.1 are accepted here',
      close: true,
    });
    return false;
  }
  return true;
}

/** Phase 3, hygiene: what a proxy must not forward because servers could read it differently (request-hygiene.ts). */
function passesHygiene(req: IncomingMessage, res: ServerResponse, listener: ListenerRuntime): boolean {
  const hygiene = hygieneProblem(req, listener.snapshot);
  if (hygiene === undefined) return true;
  sendProblem(res, hygiene.error, undefined, { detail: hygiene.detail, close: true });
  return false;
}

/**
 * Phase 4, forwarding headers: the header block copied for the upstream, Host checked against the target, and the
 * body-idle timer started. Undefined when the request was answered (400).
 */
function forwardingHeaders(
  req: IncomingMessage,
  res: ServerResponse,
  listener: ListenerRuntime,
  record: RequestRecord,
): { readonly head: RequestHead; readonly path: string } | undefined {
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
    return undefined;
  }
  const target = req.url ?? '/';
  const path = target.charCodeAt(0) === 47 /* '/' */ ? target : originForm(target, req.method, head.host);
  if (path === undefined) {
    sendProblem(res, proxyErrors.badRequest, head.requestId, {
      detail: 'request target does not match Host',
      close: true,
    });
    return undefined;
  }
  if (head.hasBody) watchBodyIdle(req, res, listener.snapshot.timeouts.bodyIdleMs);
  return { head, path };
}

/** True when an HTTP/2 request's HEADERS frame carried END_STREAM (no body follows). */
function endedWithHeaders(stream: unknown): boolean {
  return (stream as { endAfterHeaders?: boolean } | undefined)?.endAfterHeaders === true;
}

/**
 * Phases 5 to 7: normalises the path (docs/guarantees.md §3), routes the request, and carries out the route's action:
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
 * the same authority as `Host` (docs/guarantees.md §3); anything else is undefined (400).
 */
function originForm(target: string, method: string | undefined, host: string | undefined): string | undefined {
  if (target === '*') return method === 'OPTIONS' ? '*' : undefined;
  if (!/^https?:\/\//i.test(target) || !URL.canParse(target)) return undefined;
  const url = new URL(target);
  if (host === undefined || url.host !== host.toLowerCase()) return undefined;
  return `${url.pathname}${url.search}`;
}
