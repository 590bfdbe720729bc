import type { Endpoint } from '../../core/endpoint.js';
import type { Balancer, BalancerFactory, LoadGauge } from './balancer.js';
import { RoundRobin } from './round-robin.js';
import { WeightedRoundRobin } from './weighted-round-robin.js';

/** Every algorithm a service may name in its config (`algorithm:`), by name. */
export const balancerFactories = {
  'round-robin': (endpoints) => new RoundRobin(endpoints),
  'weighted-round-robin': (endpoints) => new WeightedRoundRobin(endpoints),
} satisfies Record<string, BalancerFactory>;

export type AlgorithmName = keyof typeof balancerFactories;

/** Builds the named algorithm over a service's eligible endpoints. */
export function createBalancer(algorithm: AlgorithmName, endpoints: readonly Endpoint[], load: LoadGauge): Balancer {
  const factory: BalancerFactory = balancerFactories[algorithm];
  return factory(endpoints, load);
}
