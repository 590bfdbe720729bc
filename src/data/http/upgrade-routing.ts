import { hygieneProblem } from '../downstream/request-hygiene.js';
import type { IncomingMessage } from 'node:http';
import { proxyErrors, type ProxyError } from '../../core/errors.js';
import type { RouteSnapshot } from '../../core/snapshot.js';
import type { ListenerRuntime, ServiceRuntime } from '../runtime.js';
import { forwardRequestHeaders } from './forwarding-headers.js';
import { clientAddressOf, type RequestHead } from '../downstream/client-address.js';
import { routeRequest } from './route-actions.js';

/** Where an accepted upgrade goes, and what the upstream is sent. */
export interface RoutedUpgrade {
  /** The route that took the upgrade. */
  readonly route: RouteSnapshot;
  readonly service: ServiceRuntime;
  readonly forwarded: RequestHead;
  /** The upstream's header block: forwarded headers, the route's header rules, `Upgrade` and `Connection`. */
  readonly headers: readonly string[];
  /** The upstream's request target: the normalised (and rewritten) path, and the query as sent. */
  readonly path: string;
  /** Time to the upstream's response head (the route's, else the service's). */
  readonly firstByteMs: number;
}

export interface RefusedUpgrade {
  readonly error: ProxyError;
  readonly requestId: string | undefined;
  readonly detail?: string;
}

/**
 * The checks every request gets before routing (limits, Host, an HTTP/1.1 GET asking for `websocket`), then the route
 * table exactly as for plain requests (normalised path, rewrite, header rules). A route takes the upgrade only with
 * `websocket: true`; a refusal names the error to answer with.
 */
export function routeUpgrade(req: IncomingMessage, listener: ListenerRuntime): RoutedUpgrade | RefusedUpgrade {
  const limits = listener.snapshot.limits;
  const target = req.url ?? '/';
  if (target.length > limits.targetBytes) return { error: proxyErrors.uriTooLong, requestId: undefined };
  if (req.rawHeaders.length > limits.headerCount * 2) {
    return { error: proxyErrors.headersTooLarge, requestId: undefined };
  }
  const hygiene = hygieneProblem(req, listener.snapshot);
  if (hygiene !== undefined) return { error: hygiene.error, requestId: undefined, detail: hygiene.detail };
  const forwarded = forwardRequestHeaders(
    req.rawHeaders,
    clientAddressOf(req.socket),
    listener.proto,
    listener.trusted,
  );
  const requestId = forwarded.requestId;
  const refusal = handshakeProblem(req, forwarded);
  if (refusal !== undefined) return { error: proxyErrors.badRequest, requestId, detail: refusal };
  const originTarget = target.charCodeAt(0) === 47 /* '/' */ ? target : originForm(target, forwarded.host);
  if (originTarget === undefined) {
    return { error: proxyErrors.badRequest, requestId, detail: 'request target does not match Host' };
  }
  const decision = routeRequest(listener.routes, {
    target: originTarget,
    method: req.method ?? 'GET',
    host: forwarded.host,
    rawHeaders: req.rawHeaders,
    clientIp: forwarded.clientIp,
  });
  if (decision.kind === 'invalid') return { error: proxyErrors.invalidPath, requestId, detail: decision.reason };
  if (decision.kind === 'none') return { error: proxyErrors.noRoute, requestId };
  const { route } = decision.route;
  const service = route.service === undefined ? undefined : listener.services.get(route.service);
  if (!route.websocket || service === undefined) {
    return { error: proxyErrors.badRequest, requestId, detail: 'WebSocket upgrades are not allowed on this route' };
  }
  const policies = decision.route.policies;
  const headers = policies.requestHeaders?.apply(forwarded.headers) ?? forwarded.headers;
  // Upgrade and Connection are hop-by-hop, but on a WebSocket route they are the request (RFC 9110 §7.8).
  headers.push('upgrade', upgradeValue(req), 'connection', 'Upgrade');
  return {
    route,
    service,
    forwarded,
    headers,
    path: decision.target,
    firstByteMs: policies.firstByteMs ?? service.snapshot.timeouts.firstByteMs,
  };
}

/** Why an upgrade request is refused before routing (400), or undefined when it is acceptable. */
function handshakeProblem(req: IncomingMessage, head: RequestHead): string | undefined {
  if (req.httpVersionMajor !== 1 || req.httpVersionMinor !== 1) return 'an upgrade needs HTTP/1.1';
  if (head.duplicateHost) return 'more than one Host header';
  if (head.host === undefined) return 'an HTTP/1.1 request needs a Host header';
  // Only WebSocket is tunnelled; `Upgrade: h2c` in particular is refused (docs/guarantees.md §3).
  if (
    !upgradeValue(req)
      .toLowerCase()
      .split(',')
      .some((token) => token.trim() === 'websocket')
  ) {
    return 'only WebSocket upgrades are proxied';
  }
  if (req.method !== 'GET') return 'a WebSocket handshake is a GET request (RFC 6455 §4.1)';
  return undefined;
}

function upgradeValue(req: IncomingMessage): string {
  const value = req.headers.upgrade;
  return typeof value === 'string' ? value : '';
}

/** The origin-form of an absolute-form target, which must name the same authority as `Host` (docs/guarantees.md §3). */
function originForm(target: string, host: string | undefined): string | undefined {
  if (!/^(https?|wss?):\/\//i.test(target) || !URL.canParse(target)) return undefined;
  const url = new URL(target);
  if (host === undefined || url.host !== host.toLowerCase()) return undefined;
  return `${url.pathname}${url.search}`;
}
