import type { Endpoint, EndpointId } from '../../core/endpoint.js';
import type { BalancingConfig } from '../../core/snapshot.js';

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

/** In-flight counts, latency and reported load, owned by data/upstream, read by load-aware algorithms. */
export interface LoadGauge {
  /** Requests (and tunnels) in flight to the endpoint in this process. */
  active(id: EndpointId): number;
  /**
   * The endpoint's peak-EWMA response time in ms (rises at once with a slow response, decays with time and fast
   * responses); undefined before its first response.
   */
  latencyMs?(id: EndpointId): number | undefined;
  /**
   * Requests in flight to every endpoint of the service together (what `active` summed over them would give), kept
   * as one number so a pick need not add up a thousand endpoints. Optional: without it the algorithm sums.
   */
  totalActive?(): number;
  /** The load the instance itself reported (heartbeat or `X-Load` header), or undefined when none is fresh. */
  reportedLoad?(id: EndpointId): number | undefined;
  /** When the report `reportedLoad` answers was made (ms on the gauge's clock): tells one report from the next. */
  reportedAt?(id: EndpointId): number | undefined;
}

/** What a factory may need besides the endpoints: tuning from the config and injected sources of chance and time. */
export interface BalancerOptions {
  /** A uniform random number in [0, 1); injected so that tests and the simulator are deterministic. */
  readonly random: () => number;
  /** Milliseconds on a monotonic-enough clock; injected for the same reason. */
  readonly now: () => number;
  readonly balancing: BalancingConfig;
}

/** Builds a balancer over the eligible endpoints of one service (called at `apply()` time, never per request). */
export type BalancerFactory = (endpoints: readonly Endpoint[], load: LoadGauge, options: BalancerOptions) => Balancer;
