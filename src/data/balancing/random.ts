import type { Endpoint, EndpointId } from '../../core/endpoint.js';
import type { Balancer, BalancerOptions, LoadGauge, PickContext } from './balancer.js';

/**
 * Weighted random draws over a fixed list of endpoints (all with weight > 0): cumulative weights are computed once,
 * a draw is one random number and a binary search, O(log n). The building block of `random`, `power-of-two`,
 * `peak-ewma` and the key-less fallback of `consistent-hash`.
 */
export class CumulativeWeights {
  readonly #endpoints: readonly Endpoint[];
  /** `#ends[i]` is the sum of the weights of endpoints 0..i. */
  readonly #ends: Float64Array;
  readonly #total: number;

  /** @param endpoints endpoints with weight > 0 (the caller filters); their order is the index order of `draw`. */
  constructor(endpoints: readonly Endpoint[]) {
    this.#endpoints = endpoints;
    this.#ends = new Float64Array(endpoints.length);
    let total = 0;
    endpoints.forEach((endpoint, i) => {
      total += endpoint.weight;
      this.#ends[i] = total;
    });
    this.#total = total;
  }

  /**
   * Index of an endpoint drawn with probability proportional to its weight among those neither in `exclude` nor at
   * index `skip`; -1 when none is left. Uses one random number, or two when the first lands on an excluded endpoint
   * (the second draw is then among the allowed ones only, which keeps the shares exactly proportional).
   */
  draw(random: () => number, exclude?: ReadonlySet<EndpointId>, skip = -1): number {
    const count = this.#endpoints.length;
    if (count === 0) return -1;
    const skipWeight = skip >= 0 ? this.#endpoints[skip]!.weight : 0;
    let x = random() * (this.#total - skipWeight);
    // Drawing over the total without the skipped weight, then stepping over its segment, skips it in O(log n).
    if (skip >= 0 && x >= this.#ends[skip]! - skipWeight) x += skipWeight;
    const index = this.#search(x);
    if (index !== skip && !exclude?.has(this.#endpoints[index]!.id)) return index;
    return this.#drawAllowed(random, exclude, skip);
  }

  /** The first index whose cumulative end is above x (clamped to the last, for rounding at the top end). */
  #search(x: number): number {
    let low = 0;
    let high = this.#ends.length - 1;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#ends[middle]! > x) high = middle;
      else low = middle + 1;
    }
    return low;
  }

  /** The O(n) draw among the allowed endpoints, for when the fast draw hit an excluded one. */
  #drawAllowed(random: () => number, exclude: ReadonlySet<EndpointId> | undefined, skip: number): number {
    let allowed = 0;
    let last = -1;
    for (let i = 0; i < this.#endpoints.length; i++) {
      const endpoint = this.#endpoints[i]!;
      if (i === skip || exclude?.has(endpoint.id)) continue;
      allowed += endpoint.weight;
      last = i;
    }
    if (last === -1) return -1;
    let x = random() * allowed;
    for (let i = 0; i < last; i++) {
      const endpoint = this.#endpoints[i]!;
      if (i === skip || exclude?.has(endpoint.id)) continue;
      x -= endpoint.weight;
      if (x < 0) return i;
    }
    return last;
  }
}

/**
 * Weighted random: each pick is an independent draw, endpoint i with probability weight_i ÷ Σ weight among those
 * not excluded. Stateless between picks, so it needs no coordination between processes; over few requests the shares
 * are noisier than round-robin's. Weight-0 endpoints take no traffic. O(log n) a pick.
 */
export class WeightedRandom implements Balancer {
  readonly #endpoints: readonly Endpoint[];
  readonly #weights: CumulativeWeights;
  readonly #random: () => number;

  constructor(endpoints: readonly Endpoint[], _load: LoadGauge, options: Pick<BalancerOptions, 'random'>) {
    this.#endpoints = endpoints.filter((e) => e.weight > 0);
    this.#weights = new CumulativeWeights(this.#endpoints);
    this.#random = options.random;
  }

  pick(ctx: PickContext): Endpoint | undefined {
    return this.#endpoints[this.#weights.draw(this.#random, ctx.exclude)];
  }
}
