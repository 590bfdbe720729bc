import type { Endpoint } from '../../core/endpoint.js';
import type { Balancer, BalancerOptions, LoadGauge, PickContext } from './balancer.js';

/**
 * Least connections (HAProxy's `leastconn`, nginx's `least_conn`): the endpoint with the fewest requests in flight
 * per unit of weight, `load.active(id) ÷ weight`, wins. Equal endpoints take turns: the scan starts one past the last
 * winner, so three idle endpoints get a, b, c, a … rather than a, a, a while their counts are still zero (the counts
 * of this process move only when a request starts, and a burst of picks can come before that).
 *
 * A retry (a pick with exclusions) does not move the turn, so a failing endpoint does not become every request's
 * first attempt. Weight-0 endpoints take no traffic. O(n) a pick at worst; the scan stops at the first idle endpoint.
 */
export class LeastConnections implements Balancer {
  readonly #endpoints: readonly Endpoint[];
  readonly #load: LoadGauge;
  #next = 0;

  constructor(endpoints: readonly Endpoint[], load: LoadGauge, _options?: BalancerOptions) {
    this.#endpoints = endpoints.filter((e) => e.weight > 0);
    this.#load = load;
  }

  pick(ctx: PickContext): Endpoint | undefined {
    const count = this.#endpoints.length;
    let best: Endpoint | undefined;
    let bestIndex = -1;
    let bestActive = 0;
    const exclude = ctx.exclude;
    for (let offset = 0, index = this.#next; offset < count; offset++, index = index + 1 === count ? 0 : index + 1) {
      const endpoint = this.#endpoints[index]!;
      if (exclude?.has(endpoint.id)) continue;
      const active = this.#load.active(endpoint.id);
      // active ÷ weight < bestActive ÷ bestWeight, multiplied out: exact for whole counts and weights.
      if (best === undefined || active * best.weight < bestActive * endpoint.weight) {
        best = endpoint;
        bestIndex = index;
        bestActive = active;
        // Nothing beats an idle endpoint, and among equals the first in turn order wins: the scan can stop here.
        if (active === 0) break;
      }
    }
    if (best !== undefined && (ctx.exclude === undefined || ctx.exclude.size === 0)) {
      this.#next = (bestIndex + 1) % count;
    }
    return best;
  }
}
