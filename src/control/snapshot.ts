import type { SwitchyardConfig } from '../config/schema.js';
import type { Endpoint, Health } from '../core/endpoint.js';
import { normalisePath } from '../core/request-path.js';
import type {
  HeaderRulesSnapshot,
  RouteMatchSnapshot,
  RoutePathSnapshot,
  RouteRedirectSnapshot,
  RouteRateLimitSnapshot,
  RouteRewriteSnapshot,
  RouteSnapshot,
  ServiceSnapshot,
  Snapshot,
  ValueMatchSnapshot,
} from '../core/snapshot.js';
import type { EndpointRecord } from './registry/registry.js';

/** What the control plane decided about one endpoint when the snapshot is built. */
export interface EndpointView {
  readonly record: EndpointRecord;
  readonly health: Health;
  /** The share of its weight it gets now (slow start), 0.1 … 1. */
  readonly weightFactor: number;
}

/**
 * Builds the snapshot the data plane applies. Listener-level `service:` becomes a catch-all route of that listener
 * after the configured routes. A service is in panic when it has ready endpoints but none is healthy.
 */
export function buildSnapshot(
  config: SwitchyardConfig,
  version: number,
  endpointsOf: (service: string) => readonly EndpointView[],
  stickinessSecrets: Snapshot['stickinessSecrets'],
): Snapshot {
  const services: Record<string, ServiceSnapshot> = {};
  for (const [name, service] of Object.entries(config.services)) {
    const endpoints = endpointsOf(name).map(toEndpoint);
    const ready = endpoints.filter((e) => e.state === 'ready' && e.weight > 0);
    const healthy = ready.filter((e) => e.health === 'up');
    const sick = ready.filter((e) => e.health === 'down' || e.health === 'ejected');
    services[name] = {
      name,
      algorithm: service.algorithm,
      balancing: service.balancing,
      ...(service.stickiness === undefined ? {} : { stickiness: service.stickiness }),
      ...(service.upstreamTls === undefined ? {} : { upstreamTls: service.upstreamTls }),
      ...(service.upstreamProtocol === 'http1' ? {} : { upstreamProtocol: service.upstreamProtocol }),
      endpoints,
      panic: service.panicMode && healthy.length === 0 && sick.length > 0,
      timeouts: service.timeouts,
      maxConnectionsPerEndpoint: service.maxConnectionsPerEndpoint,
      maxPendingPerEndpoint: service.maxPendingPerEndpoint,
      ...(service.proxyProtocol === undefined ? {} : { proxyProtocol: service.proxyProtocol }),
      retries: service.retries,
    };
  }
  return {
    version,
    listeners: config.listeners,
    routes: routesOf(config),
    services,
    stickinessSecrets,
    overload: config.overload,
    accessLog: config.accessLog,
  };
}

function toEndpoint(view: EndpointView): Endpoint {
  const { record } = view;
  return {
    id: record.id,
    url: record.url,
    weight: view.weightFactor === 1 ? record.weight : record.weight * view.weightFactor,
    state: record.state,
    health: view.health,
    ...(record.load === undefined ? {} : { load: record.load, loadReportedAt: record.loadReportedAt ?? 0 }),
    ...(record.metadata === undefined ? {} : { metadata: record.metadata }),
  };
}

/**
 * The routes of the snapshot: the configured ones in file order, then each listener's own `service` as a fallback
 * route of that listener. Paths are normalised as requests will be (`normalisePath`), so they compare as equals.
 */
export function routesOf(config: SwitchyardConfig): RouteSnapshot[] {
  const routes: RouteSnapshot[] = config.routes.map((route, i) => ({
    name: route.name ?? `routes.${i}`,
    ...(route.listeners === undefined ? {} : { listeners: route.listeners }),
    priority: route.priority,
    match: matchOf(route.match),
    ...(route.service === undefined ? {} : { service: route.service }),
    ...(route.redirect === undefined ? {} : { redirect: redirectOf(route.redirect) }),
    ...(route.respond === undefined ? {} : { respond: route.respond }),
    ...(route.rewrite === undefined ? {} : { rewrite: rewriteOf(route.rewrite) }),
    ...(route.requestHeaders === undefined ? {} : { requestHeaders: headerRulesOf(route.requestHeaders) }),
    ...(route.responseHeaders === undefined ? {} : { responseHeaders: headerRulesOf(route.responseHeaders) }),
    ...(route.timeouts === undefined ? {} : { timeouts: route.timeouts }),
    ...(route.maxBodyBytes === undefined ? {} : { maxBodyBytes: route.maxBodyBytes }),
    websocket: route.websocket,
    ...(route.rateLimit === undefined ? {} : { rateLimit: rateLimitOf(route.rateLimit) }),
  }));
  for (const listener of config.listeners) {
    // An L4 listener's `service` is where its connections go, not an HTTP route.
    if (listener.service === undefined || (listener.protocol !== 'http' && listener.protocol !== 'https')) continue;
    routes.push({
      name: `${listener.name}.default`,
      listeners: [listener.name],
      priority: 0,
      fallback: true,
      match: {},
      service: listener.service,
      websocket: false,
    });
  }
  return routes;
}

type RouteConfig = SwitchyardConfig['routes'][number];

function rateLimitOf(limit: NonNullable<RouteConfig['rateLimit']>): RouteRateLimitSnapshot {
  const { requestsPerSecond, maxKeys } = limit;
  const burst = limit.burst ?? Math.max(1, Math.ceil(requestsPerSecond));
  return { requestsPerSecond, burst, key: limit.key.toLowerCase(), maxKeys };
}

function matchOf(match: RouteConfig['match']): RouteMatchSnapshot {
  return {
    ...(match.host === undefined ? {} : { host: match.host.toLowerCase().replace(/\.$/, '') }),
    ...(match.path === undefined ? {} : { path: pathOf(match.path) }),
    ...(match.methods === undefined ? {} : { methods: [...new Set(match.methods.map((m) => m.toUpperCase()))] }),
    ...(match.headers === undefined
      ? {}
      : { headers: Object.entries(match.headers).map(([name, c]) => valueMatchOf(name.toLowerCase(), c)) }),
    ...(match.query === undefined
      ? {}
      : { query: Object.entries(match.query).map(([name, c]) => valueMatchOf(name, c)) }),
    ...(match.clientCidrs === undefined ? {} : { clientCidrs: match.clientCidrs }),
  };
}

function pathOf(path: NonNullable<RouteConfig['match']['path']>): RoutePathSnapshot {
  const { ignoreCase } = path;
  if (path.regex !== undefined) return { kind: 'regex', value: path.regex, ignoreCase };
  if (path.exact !== undefined) return { kind: 'exact', value: normalised(path.exact), ignoreCase };
  return { kind: 'prefix', value: normalisePrefix(normalised(path.prefix ?? '/')), ignoreCase };
}

function valueMatchOf(
  name: string,
  condition: string | { regex: string } | { present: true } | { absent: true },
): ValueMatchSnapshot {
  if (typeof condition === 'string') return { name, kind: 'exact', value: condition };
  if ('regex' in condition) return { name, kind: 'regex', value: condition.regex };
  return { name, kind: 'present' in condition ? 'present' : 'absent' };
}

function rewriteOf(rewrite: NonNullable<RouteConfig['rewrite']>): RouteRewriteSnapshot {
  if (rewrite.stripPrefix !== undefined) return { stripPrefix: normalisePrefix(normalised(rewrite.stripPrefix)) };
  if (rewrite.replacePath !== undefined) return { replacePath: normalised(rewrite.replacePath) };
  return { replacePrefix: normalised(rewrite.replacePrefix ?? '/') };
}

function redirectOf(redirect: NonNullable<RouteConfig['redirect']>): RouteRedirectSnapshot {
  return {
    ...redirect,
    ...(redirect.path === undefined ? {} : { path: normalised(redirect.path) }),
    ...(redirect.host === undefined ? {} : { host: redirect.host.toLowerCase() }),
    status: redirect.status as RouteRedirectSnapshot['status'],
  };
}

function headerRulesOf(rules: NonNullable<RouteConfig['requestHeaders']>): HeaderRulesSnapshot {
  const pairs = (record: Record<string, string> | undefined): [string, string][] =>
    Object.entries(record ?? {}).map(([name, value]) => [name.toLowerCase(), value]);
  return {
    remove: (rules.remove ?? []).map((name) => name.toLowerCase()),
    set: pairs(rules.set),
    add: pairs(rules.add),
  };
}

/** The schema accepted only paths that normalise; this gives their normal form. */
function normalised(path: string): string {
  const result = normalisePath(path);
  return result.ok ? result.path : path;
}

/** `/a/` and `/a` are the same prefix (segment boundaries are implied); `/` stays `/`. */
function normalisePrefix(prefix: string): string {
  return prefix.length > 1 && prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
}
