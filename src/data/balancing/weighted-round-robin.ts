import type { Endpoint } from '../../core/endpoint.js';
import type { Balancer, PickContext } from './balancer.js';

/**
 * Smooth weighted round-robin (nginx's algorithm): weights 5:1:1 give a,a,b,a,c,a,a, not a burst of five a's.
 * Endpoints with weight 0 take no traffic. Excluded endpoints neither win nor earn credit for that pick.
 */
export class WeightedRoundRobin implements Balancer {
  readonly #endpoints: readonly Endpoint[];
  readonly #credit: number[];

  constructor(endpoints: readonly Endpoint[]) {
    this.#endpoints = endpoints.filter((e) => e.weight > 0);
    this.#credit = this.#endpoints.map(() => 0);
  }

  pick(ctx: PickContext): Endpoint | undefined {
    let best = -1;
    let total = 0;
    for (let i = 0; i < this.#endpoints.length; i++) {
      const endpoint = this.#endpoints[i]!;
      if (ctx.exclude?.has(endpoint.id)) continue;
      this.#credit[i]! += endpoint.weight;
      total += endpoint.weight;
      if (best === -1 || this.#credit[i]! > this.#credit[best]!) best = i;
    }
    if (best === -1) return undefined;
    // The winner pays back the round's total, so its lead shrinks in proportion to its weight.
    this.#credit[best]! -= total;
    return this.#endpoints[best];
  }
}
