import type { Endpoint, EndpointId } from '../../core/endpoint.js';

/** What an algorithm may use to choose. Each algorithm reads only what it needs. */
export interface PickContext {
  /** Client IP, header or cookie value for hash algorithms. */
  readonly hashKey?: string;
  /** Already tried by this request: a retry never re-picks them. */
  readonly exclude?: ReadonlySet<EndpointId>;
}

/** One running algorithm over one service snapshot's eligible endpoints. */
export interface Balancer {
  /** Returns undefined when no eligible endpoint is left; the caller answers 503. */
  pick(ctx: PickContext): Endpoint | undefined;
}

/** In-flight counts and latency, owned by data/upstream, read by load-aware algorithms. */
export interface LoadGauge {
  active(id: EndpointId): number;
  latencyMs?(id: EndpointId): number;
}

/** Builds a balancer over the eligible endpoints of one service (called at `apply()` time, never per request). */
export type BalancerFactory = (endpoints: readonly Endpoint[], load: LoadGauge) => Balancer;
