import type { Endpoint } from '../../core/endpoint.js';
import type { Balancer, PickContext } from './balancer.js';
import { WeightedRoundRobin } from './weighted-round-robin.js';

/**
 * Round-robin, the default: endpoints a, b, c get requests a, b, c, a, b, c … When weights differ it is the smooth
 * weighted round-robin; when they are equal (the common case) a plain cursor does the same in O(1).
 */
export class RoundRobin implements Balancer {
  readonly #endpoints: readonly Endpoint[];
  readonly #weighted: WeightedRoundRobin | undefined;
  #next = 0;

  constructor(endpoints: readonly Endpoint[]) {
    this.#endpoints = endpoints.filter((e) => e.weight > 0);
    const weights = new Set(this.#endpoints.map((e) => e.weight));
    this.#weighted = weights.size > 1 ? new WeightedRoundRobin(this.#endpoints) : undefined;
  }

  pick(ctx: PickContext): Endpoint | undefined {
    if (this.#weighted !== undefined) return this.#weighted.pick(ctx);
    const count = this.#endpoints.length;
    if (ctx.exclude !== undefined) return this.#firstAllowed(ctx.exclude);
    if (count === 0) return undefined;
    const index = this.#next;
    this.#next = index + 1 === count ? 0 : index + 1;
    return this.#endpoints[index];
  }

  /**
   * A retry takes the next endpoint not yet tried without moving the cursor: otherwise a failing endpoint would
   * shift the rotation so that it is always the first attempt of the next request.
   */
  #firstAllowed(exclude: ReadonlySet<string>): Endpoint | undefined {
    const count = this.#endpoints.length;
    for (let offset = 0; offset < count; offset++) {
      const endpoint = this.#endpoints[(this.#next + offset) % count]!;
      if (!exclude.has(endpoint.id)) return endpoint;
    }
    return undefined;
  }
}
