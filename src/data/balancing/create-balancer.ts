import type { Endpoint } from '../../core/endpoint.js';
import type { ServiceSnapshot } from '../../core/snapshot.js';
import type { Balancer, BalancerFactory, BalancerOptions, LoadGauge } from './balancer.js';
import { ConsistentHash } from './consistent-hash.js';
import { LeastConnections } from './least-connections.js';
import { LeastLoad } from './least-load.js';
import { PeakEwma } from './peak-ewma.js';
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
