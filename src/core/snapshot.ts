import type {
  AccessLogConfig,
  Algorithm,
  BalancingConfig,
  ListenerConfig,
  OverloadConfig,
  RetryConfig,
  ServiceConfig,
  StickinessConfig,
} from '../config/schema.js';

export type { BalancingConfig, StickinessConfig };
import type { Endpoint } from './endpoint.js';

/**
 * The immutable, plain-data view of everything the data plane may know at one instant. The control plane builds a
 * new one on every change and hands it over through one entry point (`DataPlane.apply`); it is JSON-serialisable so
 * the same hand-over works across `node:cluster` IPC.
 */
export interface Snapshot {
  /** Increases by one with every snapshot the control plane publishes. */
  readonly version: number;
  readonly listeners: readonly ListenerSnapshot[];
  /** In configuration order; the data plane compiles them into per-listener route tables. */
  readonly routes: readonly RouteSnapshot[];
  readonly services: Readonly<Record<string, ServiceSnapshot>>;
  /** Stickiness key secrets: the first signs, all verify. Never shown by the admin API. */
  readonly stickinessSecrets: readonly { readonly id: string; readonly secret: string }[];
  /** Process-wide overload protection (connection total, Retry-After, event-loop-lag shedding); defaults when unset. */
  readonly overload?: OverloadConfig;
  /** Where and how the data plane writes its access log; undefined (as when `enabled` is false) writes none. */
  readonly accessLog?: AccessLogConfig;
}

export type ListenerSnapshot = ListenerConfig;

/**
 * One route, plain data (docs/routing.md). Paths are normalised (`core/request-path.ts`), hosts lower-case, header
 * names lower-case, methods upper-case. Exactly one of `service`, `redirect` and `respond` is set.
 */
export interface RouteSnapshot {
  /** The configured name, or `routes.<index>`; `<listener>.default` for a listener's own `service`. */
  readonly name: string;
  /** Listener names it applies to; undefined means every HTTP listener. */
  readonly listeners?: readonly string[];
  /** Higher is tried first; 0 unless configured. Equal priorities are ordered most specific first. */
  readonly priority: number;
  /** A listener's own `service`: tried after every configured route, whatever their priority. */
  readonly fallback?: boolean;
  readonly match: RouteMatchSnapshot;
  /** The service requests are proxied to. */
  readonly service?: string;
  readonly redirect?: RouteRedirectSnapshot;
  readonly respond?: RouteRespondSnapshot;
  readonly rewrite?: RouteRewriteSnapshot;
  readonly requestHeaders?: HeaderRulesSnapshot;
  readonly responseHeaders?: HeaderRulesSnapshot;
  /** Per-route upstream timeouts; the service's apply where unset. */
  readonly timeouts?: { readonly firstByteMs?: number; readonly bodyIdleMs?: number };
  /** Largest request body in bytes (413 beyond it); unlimited when unset. */
  readonly maxBodyBytes?: number;
  /** WebSocket upgrades are allowed on this route. */
  readonly websocket: boolean;
  /** A token bucket per client key; 429 beyond it. */
  readonly rateLimit?: RouteRateLimitSnapshot;
}

/** `burst` is filled in (one second's worth when not configured); `key` is `client-ip` or `header:<lower-case name>`. */
export interface RouteRateLimitSnapshot {
  readonly requestsPerSecond: number;
  readonly burst: number;
  readonly key: string;
  readonly maxKeys: number;
}

/** What a request must look like; every condition that is set must hold. */
export interface RouteMatchSnapshot {
  /** Lower-case exact host or `*.suffix`; undefined matches any host. */
  readonly host?: string;
  readonly path?: RoutePathSnapshot;
  /** Upper-case method names; undefined matches any method. */
  readonly methods?: readonly string[];
  readonly headers?: readonly ValueMatchSnapshot[];
  readonly query?: readonly ValueMatchSnapshot[];
  /** The client address (after `trustedProxies`) must be in one of these; undefined matches any client. */
  readonly clientCidrs?: readonly string[];
}

export interface RoutePathSnapshot {
  /** `prefix` matches whole segments; `regex` must match the whole path. */
  readonly kind: 'exact' | 'prefix' | 'regex';
  /** A normalised path (prefix without trailing slash; `/` is every path), or a regular expression's source. */
  readonly value: string;
  readonly ignoreCase: boolean;
}

/** One header or query parameter condition; `name` is lower-case for headers, as written for query parameters. */
export interface ValueMatchSnapshot {
  readonly name: string;
  readonly kind: 'exact' | 'regex' | 'present' | 'absent';
  /** The value (`exact`) or a regular expression's source (`regex`) that must match the whole value. */
  readonly value?: string;
}

/** Exactly one key is set. `replacePrefix` replaces the route's `match.path.prefix`. */
export interface RouteRewriteSnapshot {
  readonly stripPrefix?: string;
  readonly replacePath?: string;
  readonly replacePrefix?: string;
}

/** Removals first, then `set` (replaces every field of that name), then `add` (appends). Names are lower-case. */
export interface HeaderRulesSnapshot {
  readonly remove: readonly string[];
  readonly set: readonly (readonly [name: string, value: string])[];
  readonly add: readonly (readonly [name: string, value: string])[];
}

/** Either `to` (a template) or any of the parts; unset parts keep the request's. */
export interface RouteRedirectSnapshot {
  readonly status: 301 | 302 | 303 | 307 | 308;
  /** `{scheme}`, `{host}`, `{port}`, `{path}` and `{query}` are replaced with the request's. */
  readonly to?: string;
  readonly scheme?: 'http' | 'https';
  readonly host?: string;
  readonly port?: number;
  readonly path?: string;
  readonly dropQuery: boolean;
}

export interface RouteRespondSnapshot {
  readonly status: number;
  readonly body: string;
  readonly contentType?: string;
}

export interface ServiceSnapshot {
  readonly name: string;
  readonly algorithm: Algorithm;
  /** Tuning of the algorithm (hash key, bounded load, decay, staleness). */
  readonly balancing: BalancingConfig;
  readonly stickiness?: StickinessConfig;
  /** Re-encryption toward `https://` endpoints. */
  readonly upstreamTls?: ServiceConfig['upstreamTls'];
  /** HTTP/1.1, HTTP/2 or ALPN's choice toward the endpoints (docs/grpc.md); `http1` when absent. */
  readonly upstreamProtocol?: ServiceConfig['upstreamProtocol'];
  /**
   * Every known endpoint with its admin state and health; `weight` is the effective weight (slow start applied).
   * The data plane balances over the eligible ones: state `ready` and health `up` (or undefined).
   */
  readonly endpoints: readonly Endpoint[];
  /** Every endpoint is unhealthy: balance over all `ready` ones rather than refuse everything. */
  readonly panic: boolean;
  readonly timeouts: ServiceConfig['timeouts'];
  readonly maxConnectionsPerEndpoint: number;
  /** Requests that may wait for a connection to one endpoint at `maxConnectionsPerEndpoint` (503 beyond it). */
  readonly maxPendingPerEndpoint: number;
  /** L4 listeners send this PROXY protocol header to endpoints first. */
  readonly proxyProtocol?: 'v1' | 'v2';
  readonly retries: RetryConfig;
}
