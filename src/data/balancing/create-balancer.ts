import type { Endpoint } from '../../core/endpoint.js';
import type { BalancingConfig, ServiceSnapshot } from '../../core/snapshot.js';
import type { Balancer, BalancerFactory, BalancerOptions, LoadGauge } from './balancer.js';
import { ConsistentHash } from './consistent-hash.js';
import { LeastConnections } from './least-connections.js';
import { LeastLoad } from './least-load.js';
import { PeakEwma, PeakEwmaEstimator } from './peak-ewma.js';
import { PowerOfTwoChoices } from './power-of-two.js';
import { WeightedRandom } from './random.js';
import { RoundRobin } from './round-robin.js';
import { WeightedRoundRobin } from './weighted-round-robin.js';

/** A balancing algorithm a service may name in its config (`algorithm:`). */
export type AlgorithmName = ServiceSnapshot['algorithm'];

/** Every algorithm a service may name in its config (`algorithm:`), by name; docs/algorithms.md describes them. */
export const balancerFactories = {
  'round-robin': (endpoints) => new RoundRobin(endpoints),
  'weighted-round-robin': (endpoints) => new WeightedRoundRobin(endpoints),
  random: (endpoints, load, options) => new WeightedRandom(endpoints, load, options),
  'least-connections': (endpoints, load, options) => new LeastConnections(endpoints, load, options),
  'power-of-two': (endpoints, load, options) => new PowerOfTwoChoices(endpoints, load, options),
  'peak-ewma': (endpoints, load, options) => new PeakEwma(endpoints, load, options),
  'consistent-hash': (endpoints, load, options) => new ConsistentHash(endpoints, load, options),
  'least-load': (endpoints, load, options) => new LeastLoad(endpoints, load, options),
} satisfies Record<AlgorithmName, BalancerFactory>;

/**
 * What an algorithm asks the data plane to measure for it, declared beside its factory so that no algorithm name is
 * spelled outside `balancing/`: the response time of each endpoint (`latency` makes the estimator, given the
 * service's balancing settings), the load instances report in `X-Load`, and a hash key read from each request.
 */
export interface Measures {
  readonly latency?: (balancing: BalancingConfig) => {
    observe(ms: number, now: number): void;
    value(now: number): number | undefined;
  };
  readonly reportedLoad?: boolean;
  readonly hashKey?: boolean;
}

const measures: Record<AlgorithmName, Measures> = {
  'round-robin': {},
  'weighted-round-robin': {},
  random: {},
  'least-connections': {},
  'power-of-two': {},
  'peak-ewma': { latency: (balancing) => new PeakEwmaEstimator(balancing.peakEwma.decayMs) },
  'consistent-hash': { hashKey: true },
  'least-load': { reportedLoad: true },
};

/** What the named algorithm measures (see `Measures`). */
export function measuresOf(algorithm: AlgorithmName): Measures {
  return measures[algorithm];
}

/**
 * The balancer of hash stickiness (`source-ip`, `app-cookie`): consistent hashing on the plain ring, bounded load off,
 * so a key does not move with load.
 */
export function stickyHashBalancer(
  endpoints: readonly Endpoint[],
  load: LoadGauge,
  options: BalancerOptions,
): Balancer {
  return new ConsistentHash(endpoints, load, {
    ...options,
    balancing: { ...options.balancing, consistentHash: { method: 'ring', boundedLoadFactor: 0 } },
  });
}

/** Builds the named algorithm over a service's eligible endpoints (at `apply()` time, never per request). */
export function createBalancer(
  algorithm: AlgorithmName,
  endpoints: readonly Endpoint[],
  load: LoadGauge,
  options: BalancerOptions,
): Balancer {
  const factory: BalancerFactory = balancerFactories[algorithm];
  return factory(endpoints, load, options);
}
