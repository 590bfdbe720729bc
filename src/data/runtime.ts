import type { Endpoint, EndpointId } from '../core/endpoint.js';
import type { FactSink } from '../core/facts.js';
import type { StickinessConfig } from '../core/snapshot.js';
import type { HashKeyReader } from './stickiness/hash-key.js';
import type { ServiceStickyKeys } from './stickiness/sticky-keys.js';
import type { ListenerSnapshot, ServiceSnapshot } from '../core/snapshot.js';
import type { Balancer } from './balancing/balancer.js';
import type { TrustedProxies } from './downstream/client-address.js';
import type { RouteTable } from './routing/route-table.js';
import type { RetryBudget } from './upstream/retry-budget.js';
import type { EndpointGauge, LatencyEstimator } from './upstream/endpoint-gauge.js';
import type { EndpointGate } from './upstream/endpoint-gate.js';
import type { UpstreamPool } from './upstream/create-pool.js';
import type { TlsFailureReporter } from './upstream/tls-failure-log.js';
import type { OverloadGuard } from './overload/overload-guard.js';
import type { RouteCounters } from './request-counters.js';
import type { ServiceTraffic } from '../core/traffic.js';
import type { AccessLog } from '../observability/access-log.js';

/**
 * What the data plane compiled from one snapshot: everything a request needs, precomputed at `apply()` time.
 * A request reads its listener's runtime once when it starts and keeps it until it ends.
 */
export interface EndpointRuntime {
  readonly endpoint: Endpoint;
  readonly pool: UpstreamPool;
  /** The endpoint's live counters; only the upstream attempt changes them. */
  readonly load: EndpointGauge;
  /** Requests in flight to the pool and the bounded queue in front of it (`maxPendingPerEndpoint`, `queueMs`). */
  readonly gate: EndpointGate;
}

export interface ServiceRuntime {
  readonly snapshot: ServiceSnapshot;
  readonly balancer: Balancer;
  readonly endpoints: ReadonlyMap<EndpointId, EndpointRuntime>;
  readonly retryBudget: RetryBudget;
  /** The service's retry count (for metrics), kept across snapshots. */
  readonly counters: ServiceTraffic;
  /** Where gateway errors are reported (the control plane decides on ejection). */
  readonly facts: FactSink;
  /** Logs and counts a failed TLS handshake with an endpoint (upstream/tls-failure-log.ts). */
  readonly tlsFailures?: TlsFailureReporter;
  /** The process's overload state: Retry-After and the counts of what the endpoint queues refuse. */
  readonly overload: OverloadGuard;
  readonly sticky?: StickyRuntime;
  /** For `consistent-hash`: reads the request's key. */
  readonly hashKey?: HashKeyReader;
  /** What the attempts measure for the algorithm: response times (with the estimator it wants), reported loads. */
  readonly measures: {
    readonly latency: (() => LatencyEstimator) | undefined;
    readonly reportedLoad: boolean;
  };
}

/** A service's stickiness, compiled at `apply()` time. */
export interface StickyRuntime {
  readonly config: StickinessConfig;
  readonly keys: ServiceStickyKeys;
  /** Endpoints a sticky client may be sent to: eligible ones, plus draining ones when `honourOnDrain`. */
  readonly eligible: ReadonlySet<EndpointId>;
  /** For `source-ip` and `app-cookie`: a consistent hash over the eligible endpoints. */
  readonly hash?: Balancer;
}

export interface ListenerRuntime {
  readonly snapshot: ListenerSnapshot;
  /** What the client spoke to the listener: `https` when it terminated TLS (X-Forwarded-Proto, Forwarded proto). */
  readonly proto: 'http' | 'https';
  readonly routes: RouteTable;
  readonly trusted: TrustedProxies;
  readonly services: ReadonlyMap<string, ServiceRuntime>;
  /** Request counters of this listener's routes (for metrics), by route rank. */
  readonly requests: RouteCounters;
  /** The process's overload state: connection total, Retry-After, rate limiters, shedding. */
  readonly overload: OverloadGuard;
  /** Where each request's line goes; undefined when the access log is off (one test per request). */
  readonly accessLog: AccessLog | undefined;
}
