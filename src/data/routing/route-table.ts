import type { RouteSnapshot } from '../../core/snapshot.js';
import { RequestView, RouteConditions, type RouteRequest } from './route-matchers.js';
import { RoutePolicies } from './route-policies.js';

export type { RouteRequest } from './route-matchers.js';

/** A route of a compiled table: its snapshot, what it does (`policies`) and its place in the order. */
export class CompiledRoute {
  readonly route: RouteSnapshot;
  readonly policies: RoutePolicies;
  readonly conditions: RouteConditions;
  /** Position in the table's order: lower is tried first. */
  readonly rank: number;

  constructor(route: RouteSnapshot, rank: number) {
    this.route = route;
    this.rank = rank;
    this.conditions = new RouteConditions(route.match);
    this.policies = new RoutePolicies(route);
  }
}

/** A route table lookup's answer. */
export type RouteMatch = CompiledRoute;

/**
 * The routes of one listener, compiled once per snapshot (docs/routing.md). Order: the higher `priority` first; among
 * equal priorities the most specific first (`specificity`); then configuration order; a listener's own `service`
 * last of all. Routes are indexed by host (exact names in a map, wildcards by suffix) and then by the first segment
 * of their exact or prefix path, so a lookup only visits routes that can match, in table order; conditions are plain
 * string and set comparisons, and a regex runs only once everything cheaper about its route has matched.
 */
export class RouteTable {
  readonly #ordered: readonly CompiledRoute[];
  readonly #exactHost = new Map<string, RouteBucket>();
  readonly #wildcardHost = new Map<string, RouteBucket>();
  readonly #anyHost = new RouteBucket();
  readonly #headerNames = new Set<string>();
  readonly #queryNames = new Set<string>();

  constructor(routes: readonly RouteSnapshot[]) {
    const sorted = orderRoutes(routes);
    this.#ordered = sorted.map((route, rank) => new CompiledRoute(route, rank));
    for (const compiled of this.#ordered) {
      const host = compiled.route.match.host;
      if (host === undefined) this.#anyHost.add(compiled);
      else if (host.startsWith('*.')) bucketOf(this.#wildcardHost, host.slice(1)).add(compiled);
      else bucketOf(this.#exactHost, host).add(compiled);
      for (const header of compiled.route.match.headers ?? []) this.#headerNames.add(header.name);
      for (const parameter of compiled.route.match.query ?? []) this.#queryNames.add(parameter.name);
    }
  }

  /** Routes in the order they are tried (for the admin API and `validate`). */
  get routes(): readonly RouteSnapshot[] {
    return this.#ordered.map((r) => r.route);
  }

  /** The first route, in table order, whose every condition the request meets; undefined answers 404. */
  match(request: RouteRequest): RouteMatch | undefined {
    const view = new RequestView(request, this.#headerNames, this.#queryNames);
    const segment = firstSegment(request.path);
    const candidates: CompiledRoute[][] = [];
    if (this.#exactHost.size > 0 || this.#wildcardHost.size > 0) {
      const host = hostnameOf(request.host);
      this.#exactHost.get(host)?.collect(segment, candidates);
      if (this.#wildcardHost.size > 0) {
        // `*.example.com` is stored as `.example.com`: try the suffix at every dot but a leading one.
        for (let dot = host.indexOf('.', 1); dot !== -1; dot = host.indexOf('.', dot + 1)) {
          this.#wildcardHost.get(host.slice(dot))?.collect(segment, candidates);
        }
      }
    }
    this.#anyHost.collect(segment, candidates);
    if (candidates.length === 0) return undefined;
    if (candidates.length === 1) return firstMatch(candidates[0]!, view);
    return firstMatchMerged(candidates, view);
  }
}

/**
 * The routes of one host (or of any host), split by the first segment of their path: a route with an exact or prefix
 * path is only a candidate for requests whose first segment is the same; the others (no path, `/`, regex, ignoreCase)
 * are candidates for every request. Each list keeps table order.
 */
class RouteBucket {
  readonly #bySegment = new Map<string, CompiledRoute[]>();
  readonly #anySegment: CompiledRoute[] = [];

  add(route: CompiledRoute): void {
    const path = route.route.match.path;
    const indexed = path !== undefined && path.kind !== 'regex' && !path.ignoreCase && path.value !== '/';
    if (!indexed) {
      this.#anySegment.push(route);
      return;
    }
    const segment = firstSegment(path.value)!;
    const list = this.#bySegment.get(segment);
    if (list === undefined) this.#bySegment.set(segment, [route]);
    else list.push(route);
  }

  /** Adds the non-empty candidate lists for a request whose path starts with `segment`. */
  collect(segment: string | undefined, into: CompiledRoute[][]): void {
    if (segment !== undefined && this.#bySegment.size > 0) {
      const list = this.#bySegment.get(segment);
      if (list !== undefined) into.push(list);
    }
    if (this.#anySegment.length > 0) into.push(this.#anySegment);
  }
}

function bucketOf(map: Map<string, RouteBucket>, key: string): RouteBucket {
  let bucket = map.get(key);
  if (bucket === undefined) map.set(key, (bucket = new RouteBucket()));
  return bucket;
}

/** `a` for `/a/b`, `` for `/`; undefined for a path that does not start with `/` (`*`). */
function firstSegment(path: string): string | undefined {
  if (path.charCodeAt(0) !== 47 /* '/' */) return undefined;
  const end = path.indexOf('/', 1);
  return end === -1 ? path.slice(1) : path.slice(1, end);
}

function firstMatch(routes: readonly CompiledRoute[], view: RequestView): CompiledRoute | undefined {
  for (const route of routes) if (route.conditions.test(view)) return route;
  return undefined;
}

/** Walks several rank-ordered lists as one, lowest rank first, and returns the first route that matches. */
function firstMatchMerged(lists: readonly CompiledRoute[][], view: RequestView): CompiledRoute | undefined {
  const next = lists.map(() => 0);
  for (;;) {
    let best = -1;
    for (let i = 0; i < lists.length; i++) {
      const candidate = lists[i]![next[i]!];
      if (candidate !== undefined && (best === -1 || candidate.rank < lists[best]![next[best]!]!.rank)) best = i;
    }
    if (best === -1) return undefined;
    const route = lists[best]![next[best]!]!;
    next[best]!++;
    if (route.conditions.test(view)) return route;
  }
}

/** The routes in the order a table tries them (stable: equal routes keep their configuration order). */
export function orderRoutes(routes: readonly RouteSnapshot[]): RouteSnapshot[] {
  return routes
    .map((route, order) => ({ route, order, key: specificity(route) }))
    .sort((a, b) => compareKeys(a.key, b.key) || a.order - b.order)
    .map((entry) => entry.route);
}

/**
 * How a route sorts, compared left to right, larger first: not a listener fallback; `priority`; host (exact, then
 * wildcard by suffix length, then none); path (exact, then regex, then prefix by length, then none); the number of
 * other conditions (methods, each header, each query parameter, client CIDRs).
 */
export function specificity(route: RouteSnapshot): readonly number[] {
  const { match } = route;
  const host = match.host;
  const hostRank = host === undefined ? 0 : host.startsWith('*.') ? 1 : 2;
  const path = match.path;
  const catchAll = path === undefined || (path.kind === 'prefix' && path.value === '/');
  const pathRank = catchAll ? 0 : path.kind === 'exact' ? 3 : path.kind === 'regex' ? 2 : 1;
  const conditions =
    (match.methods === undefined ? 0 : 1) +
    (match.headers?.length ?? 0) +
    (match.query?.length ?? 0) +
    (match.clientCidrs === undefined ? 0 : 1);
  return [
    route.fallback === true ? 0 : 1,
    route.priority,
    hostRank,
    host?.length ?? 0,
    pathRank,
    catchAll || path.kind === 'regex' ? 0 : path.value.length,
    conditions,
  ];
}

function compareKeys(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) {
    const difference = (b[i] ?? 0) - (a[i] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
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
