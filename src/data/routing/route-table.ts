import type { RouteSnapshot } from '../../core/snapshot.js';

/** A route table lookup's answer: the route that matched (its service name is the target). */
export type RouteMatch = RouteSnapshot;

interface CompiledRoute {
  readonly route: RouteSnapshot;
  /** Exact host, or undefined for any host. */
  readonly host: string | undefined;
  /** `.example.com` for `*.example.com`. */
  readonly hostSuffix: string | undefined;
  readonly prefix: string;
}

/**
 * The routes of one listener, compiled once per snapshot and ordered most specific first: exact host before
 * wildcard host (longer suffix first) before any host, then longer path prefix first, then configuration order.
 * Lookups compare strings only; nothing is parsed or compiled per request.
 */
export class RouteTable {
  readonly #routes: readonly CompiledRoute[];
  readonly #hostSensitive: boolean;

  constructor(routes: readonly RouteSnapshot[]) {
    const compiled = routes.map((route, order) => ({
      route,
      order,
      ...compileHost(route.host),
      prefix: route.pathPrefix,
    }));
    compiled.sort((a, b) => hostRank(b) - hostRank(a) || b.prefix.length - a.prefix.length || a.order - b.order);
    this.#routes = compiled;
    this.#hostSensitive = compiled.some((r) => r.host !== undefined || r.hostSuffix !== undefined);
  }

  /** Routes in the order they are tried (for the admin API and `validate`). */
  get routes(): readonly RouteSnapshot[] {
    return this.#routes.map((r) => r.route);
  }

  /**
   * Finds the route for a request. `hostHeader` may carry a port and any case; `path` is the path without query.
   * Returns undefined when nothing matches (the caller answers 404).
   */
  match(hostHeader: string | undefined, path: string): RouteMatch | undefined {
    const host = this.#hostSensitive ? hostnameOf(hostHeader) : '';
    for (const candidate of this.#routes) {
      if (candidate.host !== undefined && candidate.host !== host) continue;
      if (
        candidate.hostSuffix !== undefined &&
        !(host.endsWith(candidate.hostSuffix) && host.length > candidate.hostSuffix.length)
      ) {
        continue;
      }
      if (matchesPrefix(path, candidate.prefix)) return candidate.route;
    }
    return undefined;
  }
}

function compileHost(host: string | undefined): { host: string | undefined; hostSuffix: string | undefined } {
  if (host === undefined) return { host: undefined, hostSuffix: undefined };
  return host.startsWith('*.') ? { host: undefined, hostSuffix: host.slice(1) } : { host, hostSuffix: undefined };
}

function hostRank(route: CompiledRoute): number {
  if (route.host !== undefined) return 1_000_000;
  if (route.hostSuffix !== undefined) return route.hostSuffix.length;
  return -1;
}

/** Prefix on segment boundaries: `/a` matches `/a`, `/a/` and `/a/b`, never `/ab`. */
function matchesPrefix(path: string, prefix: string): boolean {
  if (prefix === '/') return true;
  if (!path.startsWith(prefix)) return false;
  return path.length === prefix.length || path.charCodeAt(prefix.length) === 47; /* '/' */
}

/** Lower-case host name without port or trailing dot; `[v6]:port` keeps its brackets. */
export function hostnameOf(hostHeader: string | undefined): string {
  if (hostHeader === undefined) return '';
  let end = hostHeader.length;
  if (hostHeader.charCodeAt(0) === 91 /* '[' */) {
    end = hostHeader.indexOf(']') + 1 || end;
  } else {
    const colon = hostHeader.lastIndexOf(':');
    if (colon !== -1) end = colon;
  }
  if (hostHeader.charCodeAt(end - 1) === 46 /* '.' */) end--;
  return hostHeader.slice(0, end).toLowerCase();
}
