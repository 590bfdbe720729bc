import type { Endpoint } from '../../core/endpoint.js';
import type { Balancer, PickContext } from './balancer.js';

/** The longest cycle (the sum of the weights) precomputed; above it, or for huge tables, each pick scans (O(n)). */
const maxScheduleLength = 65_536;
const maxScheduleWork = 8_000_000;

/**
 * Smooth weighted round-robin (nginx's algorithm): weights 5:1:1 give a,a,b,a,c,a,a, not a burst of five a's.
 * Endpoints with weight 0 take no traffic.
 *
 * The sequence is periodic: after one cycle of Σ weights picks every credit is back at 0. So the cycle is computed
 * once, when the balancer is built, and a pick is an array read (O(1), whatever the number of endpoints). A retry
 * (a pick with exclusions) takes the next scheduled endpoint not yet tried without moving the cursor, as plain
 * round-robin does. Cycles too long to keep (Σ weights above 65,536) and fractional weights (slow start ramps them) fall back to the O(n) credit scan, where an
 * excluded endpoint neither wins nor earns credit for that pick.
 */
export class WeightedRoundRobin implements Balancer {
  readonly #endpoints: readonly Endpoint[];
  readonly #credit: number[];
  readonly #schedule: Uint32Array | undefined;
  #cursor = 0;

  constructor(endpoints: readonly Endpoint[]) {
    this.#endpoints = endpoints.filter((e) => e.weight > 0);
    this.#credit = this.#endpoints.map(() => 0);
    const cycle = this.#endpoints.reduce((sum, e) => sum + e.weight, 0);
    // Only whole weights make a whole cycle: slow start and DNS weights give fractions, which scan instead.
    const whole = this.#endpoints.every((e) => Number.isInteger(e.weight));
    if (whole && cycle > 0 && cycle <= maxScheduleLength && cycle * this.#endpoints.length <= maxScheduleWork) {
      const schedule = new Uint32Array(cycle);
      for (let i = 0; i < cycle; i++) schedule[i] = this.#scan(undefined);
      this.#schedule = schedule;
    }
  }

  pick(ctx: PickContext): Endpoint | undefined {
    const schedule = this.#schedule;
    if (schedule === undefined) {
      const best = this.#scan(ctx.exclude);
      return best === -1 ? undefined : this.#endpoints[best];
    }
    const exclude = ctx.exclude;
    if (exclude === undefined || exclude.size === 0) {
      const index = schedule[this.#cursor]!;
      this.#cursor = this.#cursor + 1 === schedule.length ? 0 : this.#cursor + 1;
      return this.#endpoints[index];
    }
    if (exclude.size >= this.#endpoints.length && this.#endpoints.every((e) => exclude.has(e.id))) return undefined;
    for (let step = 0; step < schedule.length; step++) {
      const endpoint = this.#endpoints[schedule[(this.#cursor + step) % schedule.length]!]!;
      if (!exclude.has(endpoint.id)) return endpoint;
    }
    return undefined;
  }

  /** One step of the credit algorithm: the index of the winner (-1 when every endpoint is excluded). */
  #scan(exclude: ReadonlySet<string> | undefined): number {
    let best = -1;
    let total = 0;
    for (let i = 0; i < this.#endpoints.length; i++) {
      const endpoint = this.#endpoints[i]!;
      if (exclude?.has(endpoint.id)) continue;
      this.#credit[i]! += endpoint.weight;
      total += endpoint.weight;
      if (best === -1 || this.#credit[i]! > this.#credit[best]!) best = i;
    }
    if (best === -1) return -1;
    // The winner pays back the round's total, so its lead shrinks in proportion to its weight.
    this.#credit[best]! -= total;
    return best;
  }
}
