import type { Endpoint } from '../../core/endpoint.js';
import type { Balancer, BalancerOptions, LoadGauge, PickContext } from './balancer.js';
import { CumulativeWeights } from './random.js';

/**
 * Finagle's peak-EWMA response time of one endpoint, in ms. Pure: time is passed in, nothing is read from a clock.
 *
 * - A sample above the current value replaces it at once, so a slowdown is seen on its first slow response.
 * - A sample at or below it pulls the value toward itself with time constant `decayMs`: by `1 − e^(−Δt ÷ decayMs)`,
 *   Δt being the time since the previous sample, so the average forgets at the same rate however busy the endpoint.
 * - Between samples the value decays toward 0 with the same time constant. An endpoint that gets no traffic because
 *   it was slow thus looks fast again after a while and is tried again (the Finagle and Linkerd estimators do this;
 *   Traefik's least-time does not, and starves a once-slow endpoint for good, traefik/traefik#12306).
 *
 * The time constant bounds how fast a recovered endpoint can win its share back: however often it is probed, the
 * samples of its slow period keep `e^(−t ÷ decayMs)` of their weight after t. Finagle and Linkerd use 10 s, which
 * leaves a recovered endpoint looking slow for 20 s or more; the default here is 1 s (back to its share within ~2 s).
 */
export class PeakEwmaEstimator {
  readonly #decayMs: number;
  #estimateMs: number | undefined;
  #stampMs = 0;

  /** @param decayMs the time constant, in ms (`balancing.peakEwma.decayMs`, 1 000 by default); must be > 0. */
  constructor(decayMs: number) {
    this.#decayMs = decayMs;
  }

  /** Records one response time `latencyMs` that ended at `nowMs` (the clock of `value`). */
  observe(latencyMs: number, nowMs: number): void {
    const current = this.value(nowMs);
    if (current === undefined || latencyMs > current) {
      this.#estimateMs = latencyMs;
    } else {
      // `current` already holds the decay toward 0 for the quiet time; the sample moves it by the share of that time.
      const kept = Math.exp(-Math.max(0, nowMs - this.#stampMs) / this.#decayMs);
      this.#estimateMs = current * kept + latencyMs * (1 - kept);
    }
    this.#stampMs = Math.max(this.#stampMs, nowMs);
  }

  /** The estimate at `nowMs`, decayed toward 0 since the last sample; undefined before the first sample. */
  value(nowMs: number): number | undefined {
    if (this.#estimateMs === undefined) return undefined;
    return this.#estimateMs * Math.exp(-Math.max(0, nowMs - this.#stampMs) / this.#decayMs);
  }
}

/**
 * What an endpoint with requests in flight but no response yet is assumed to take, in ms. Finagle's "penalty": a new
 * endpoint gets one probe request at once (it costs 0 while idle) but no burst before its first response is known.
 */
const UNMEASURED_BUSY_LATENCY_MS = 1_000_000;

/**
 * Peak-EWMA (Finagle, Linkerd; Envoy's contrib `peak_ewma`): each endpoint costs
 * `latencyMs × (active + 1) ÷ weight`, its peak-EWMA response time (`load.latencyMs`, see {@link PeakEwmaEstimator})
 * scaled by the requests it already has in flight, and the cheaper of two endpoints drawn at random (by weight) wins;
 * on a tie the first drawn. A never-measured endpoint costs 0 while idle, so a new endpoint is tried at once.
 *
 * Two random choices rather than the global minimum: the latencies and counts are read at pick time and move only
 * when responses come back, so a global minimum would send a whole burst (and every process) to the same endpoint;
 * two choices spread it, never pick the worst endpoint when n > 2, and cost O(log n).
 *
 * Probing: an endpoint that has not been picked for more than `balancing.peakEwma.decayMs` gets the next pick (the
 * longest-waiting first), so a once-slow endpoint is measured again even while it still looks slow.
 * Excluded endpoints are never picked; weight-0 endpoints take no traffic.
 */
export class PeakEwma implements Balancer {
  readonly #endpoints: readonly Endpoint[];
  readonly #weights: CumulativeWeights;
  readonly #load: LoadGauge;
  readonly #random: () => number;
  readonly #now: () => number;
  readonly #decayMs: number;
  readonly #lastPickedMs: Float64Array;
  /** No endpoint is due a probe before this time: the oldest last pick plus `decayMs`, as of the last scan. */
  #probeDueMs: number;

  constructor(endpoints: readonly Endpoint[], load: LoadGauge, options: BalancerOptions) {
    this.#endpoints = endpoints.filter((e) => e.weight > 0);
    this.#weights = new CumulativeWeights(this.#endpoints);
    this.#load = load;
    this.#random = options.random;
    this.#now = options.now;
    this.#decayMs = options.balancing.peakEwma.decayMs;
    const nowMs = options.now();
    this.#lastPickedMs = new Float64Array(this.#endpoints.length).fill(nowMs);
    this.#probeDueMs = nowMs + this.#decayMs;
  }

  pick(ctx: PickContext): Endpoint | undefined {
    const nowMs = this.#now();
    let index = nowMs > this.#probeDueMs ? this.#starved(nowMs, ctx) : -1;
    if (index === -1) index = this.#twoChoices(ctx);
    if (index === -1) return undefined;
    this.#lastPickedMs[index] = nowMs;
    return this.#endpoints[index];
  }

  #twoChoices(ctx: PickContext): number {
    const first = this.#weights.draw(this.#random, ctx.exclude);
    if (first === -1) return -1;
    const second = this.#weights.draw(this.#random, ctx.exclude, first);
    if (second === -1) return first;
    return this.#cost(this.#endpoints[second]!) < this.#cost(this.#endpoints[first]!) ? second : first;
  }

  #cost(endpoint: Endpoint): number {
    const active = this.#load.active(endpoint.id);
    const latencyMs = this.#load.latencyMs?.(endpoint.id) ?? (active === 0 ? 0 : UNMEASURED_BUSY_LATENCY_MS);
    return (latencyMs * (active + 1)) / endpoint.weight;
  }

  /** The allowed endpoint picked longest ago if that is more than `decayMs` ago, else -1; also moves the due time. */
  #starved(nowMs: number, ctx: PickContext): number {
    let oldest = -1;
    let due = Infinity;
    for (let i = 0; i < this.#endpoints.length; i++) {
      const pickedMs = this.#lastPickedMs[i]!;
      due = Math.min(due, pickedMs + this.#decayMs);
      if (ctx.exclude?.has(this.#endpoints[i]!.id)) continue;
      if (oldest === -1 || pickedMs < this.#lastPickedMs[oldest]!) oldest = i;
    }
    this.#probeDueMs = due;
    if (oldest === -1 || nowMs - this.#lastPickedMs[oldest]! <= this.#decayMs) return -1;
    return oldest;
  }
}
