import type {
  Algorithm,
  BalancingConfig,
  ListenerConfig,
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
}

export type ListenerSnapshot = ListenerConfig;

export interface RouteSnapshot {
  /** The configured name, or `routes.<index>`. */
  readonly name: string;
  /** Listener names it applies to; undefined means every HTTP listener. */
  readonly listeners?: readonly string[];
  /** Lower-case exact host or `*.suffix`; undefined matches any host. */
  readonly host?: string;
  /** Path prefix on segment boundaries, without a trailing slash (`/` is the catch-all). */
  readonly pathPrefix: string;
  readonly service: string;
}

export interface ServiceSnapshot {
  readonly name: string;
  readonly algorithm: Algorithm;
  /** Tuning of the algorithm (hash key, bounded load, decay, staleness). */
  readonly balancing: BalancingConfig;
  readonly stickiness?: StickinessConfig;
  /**
   * Every known endpoint with its admin state and health; `weight` is the effective weight (slow start applied).
   * The data plane balances over the eligible ones: state `ready` and health `up` (or undefined).
   */
  readonly endpoints: readonly Endpoint[];
  /** Every endpoint is unhealthy: balance over all `ready` ones rather than refuse everything. */
  readonly panic: boolean;
  readonly timeouts: ServiceConfig['timeouts'];
  readonly maxConnectionsPerEndpoint: number;
  readonly retries: RetryConfig;
}
