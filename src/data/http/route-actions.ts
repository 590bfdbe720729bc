import type { ServerResponse } from 'node:http';
import { normalisePath } from '../../core/request-path.js';
import type { RoutePolicies } from '../routing/route-policies.js';
import type { RouteMatch, RouteTable } from '../routing/route-table.js';

/**
 * The proxy's side of routing: from a request to a route (normalised path, docs/guarantees.md §3), and the route actions
 * that answer without an upstream (fixed response, redirect) or bound the request (body size).
 */

/** What routing decided for one request. */
export type RouteDecision =
  /** The path cannot be normalised safely (encoded slash, malformed escape …): 400. */
  | { readonly kind: 'invalid'; readonly reason: string }
  /** No route matches: 404. */
  | { readonly kind: 'none' }
  | {
      readonly kind: 'route';
      readonly route: RouteMatch;
      /** The normalised path after the route's rewrite: what the upstream (or a redirect) gets. */
      readonly path: string;
      /** The query string without `?`; empty when there is none. */
      readonly query: string;
      /** `path` plus the query string as sent: the upstream request target. */
      readonly target: string;
    };

/** The request facts routing reads (the header block is the client's, before forwarding headers were added). */
export interface RoutedRequest {
  /** An origin-form target (`/path?query`) or `*`. */
  readonly target: string;
  readonly method: string;
  readonly host: string | undefined;
  readonly rawHeaders: readonly string[];
  readonly clientIp: string;
}

/**
 * Normalises the path of `request.target` (`normalisePath`), matches it against the listener's table and applies the
 * route's rewrite. The query string is matched decoded but forwarded exactly as sent.
 */
export function routeRequest(table: RouteTable, request: RoutedRequest): RouteDecision {
  const mark = request.target.indexOf('?');
  const rawPath = mark === -1 ? request.target : request.target.slice(0, mark);
  const query = mark === -1 ? '' : request.target.slice(mark + 1);
  const normalised = normalisePath(rawPath);
  if (!normalised.ok) return { kind: 'invalid', reason: normalised.reason };
  const route = table.match({
    host: request.host,
    path: normalised.matchPath,
    method: request.method,
    query,
    rawHeaders: request.rawHeaders,
    clientIp: request.clientIp,
  });
  if (route === undefined) return { kind: 'none' };
  const path = route.policies.rewrite(normalised.path, normalised.matchPath);
  return { kind: 'route', route, path, query, target: mark === -1 ? path : `${path}${request.target.slice(mark)}` };
}

/** True when the declared `Content-Length` is over the route's `maxBodyBytes` (413 before anything is read). */
export function declaresTooLargeBody(contentLength: number | undefined, policies: RoutePolicies): boolean {
  return policies.maxBodyBytes !== undefined && contentLength !== undefined && contentLength > policies.maxBodyBytes;
}

/** Answers with the route's fixed response (`respond`), its response header rules applied. */
export function sendFixedResponse(res: ServerResponse, policies: RoutePolicies, requestId: string): void {
  const respond = policies.respond!;
  const headers = [...respond.headers, 'x-request-id', requestId];
  res.writeHead(respond.status, policies.responseHeaders?.apply(headers) ?? headers);
  res.end(respond.body);
}

/**
 * Answers with the route's redirect; false (nothing sent) when the target needs the request's host and the request
 * had no `Host` (HTTP/1.0), so the caller can answer 400.
 */
export function sendRedirect(
  res: ServerResponse,
  policies: RoutePolicies,
  source: { scheme: 'http' | 'https'; host: string | undefined; path: string; query: string },
  requestId: string,
): boolean {
  const redirect = policies.redirect!;
  const location = redirect.location(source);
  if (location === undefined) return false;
  const headers = ['location', location, 'content-length', '0', 'x-request-id', requestId];
  res.writeHead(redirect.status, policies.responseHeaders?.apply(headers) ?? headers);
  res.end();
  return true;
}

/** The error a request body over the route's `maxBodyBytes` fails its upstream request with. */
export class BodyTooLargeError extends Error {
  readonly code = 'SY_BODY_TOO_LARGE';
  constructor(limit: number) {
    super(`request body over ${limit} bytes`);
    this.name = 'BodyTooLargeError';
  }
}
