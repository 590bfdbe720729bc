import type { Endpoint } from '../../core/endpoint.js';
import type { Balancer, BalancerOptions, LoadGauge, PickContext } from './balancer.js';
import { CumulativeWeights } from './random.js';

/**
 * Power of two random choices (Envoy's `LEAST_REQUEST`, HAProxy's `random(2)`, nginx's `random two least_conn`):
 * draw two distinct endpoints at random, in proportion to their weights, and send the request to the one with fewer
 * requests in flight per unit of weight (`active ÷ weight`); on a tie the first drawn wins. Nearly as good as least
 * connections at spreading load, in O(log n), and it does not herd: when many processes (or a burst of picks before
 * the counts move) read the same counts, they do not all choose the same least-loaded endpoint.
 *
 * Excluded endpoints are never drawn; when only one endpoint is left it is picked. Weight-0 endpoints take no traffic.
 */
export class PowerOfTwoChoices implements Balancer {
  readonly #endpoints: readonly Endpoint[];
  readonly #weights: CumulativeWeights;
  readonly #load: LoadGauge;
  readonly #random: () => number;

  constructor(endpoints: readonly Endpoint[], load: LoadGauge, options: Pick<BalancerOptions, 'random'>) {
    this.#endpoints = endpoints.filter((e) => e.weight > 0);
    this.#weights = new CumulativeWeights(this.#endpoints);
    this.#load = load;
    this.#random = options.random;
  }

  pick(ctx: PickContext): Endpoint | undefined {
    const firstIndex = this.#weights.draw(this.#random, ctx.exclude);
    const first = this.#endpoints[firstIndex];
    if (first === undefined) return undefined;
    const second = this.#endpoints[this.#weights.draw(this.#random, ctx.exclude, firstIndex)];
    if (second === undefined) return first;
    // active ÷ weight compared multiplied out.
    const firstCost = this.#load.active(first.id) * second.weight;
    const secondCost = this.#load.active(second.id) * first.weight;
    return secondCost < firstCost ? second : first;
  }
}
