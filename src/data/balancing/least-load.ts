import type { Endpoint } from '../../core/endpoint.js';
import type { Balancer, BalancerOptions, LoadGauge, PickContext } from './balancer.js';
import { LeastConnections } from './least-connections.js';

/**
 * Least reported load (what traefik/traefik#3745 asks for; Envoy's ORCA in spirit): each instance reports its own load
 * (heartbeat or `X-Load` header, any non-negative number, e.g. CPU share or queue length) and the endpoint with the
 * lowest projected load per unit of weight wins; equal endpoints take turns as in {@link LeastConnections}.
 *
 * A report is a picture of the past: between two reports every pick would see the same numbers and send everything
 * to the lowest reporter. So the load is projected with what this process did since the report:
 * `projected = max(0, reported + perRequest × (active − activeAtReport))`, where `active` is the endpoint's requests
 * in flight now, `activeAtReport` what it was when the report was first seen, and `perRequest` the load one request
 * adds, estimated over the pick's candidates as `Σ reported ÷ Σ (activeAtReport + 1)`. A request sent raises the projection
 * and a request that ends lowers it, so the lowest reporter takes requests until it is level with the next one, and
 * endpoints that report the same load are given requests in turn. When every report is 0, `perRequest` is 0 and all
 * tie: they take turns too.
 *
 * The gauge decides freshness (`balancing.leastLoad.staleMs`) and answers undefined for a missing or stale report.
 * When any allowed endpoint of a pick has none, that whole pick falls back to least connections: reported loads and
 * in-flight counts are in different units, so they cannot be compared with each other endpoint by endpoint. The
 * reports are used again as soon as every allowed endpoint has a fresh one. A gauge without `reportedAt` cannot tell
 * one report from the next: the reported loads are then compared as they are.
 *
 * A retry (a pick with exclusions) does not move the turn. Weight-0 endpoints take no traffic. O(n) a pick.
 */
export class LeastLoad implements Balancer {
  readonly #endpoints: readonly Endpoint[];
  readonly #load: LoadGauge;
  readonly #fallback: LeastConnections;
  /** Per endpoint: the `reportedAt` of the report last seen (NaN: none yet), and `active` when it was first seen. */
  readonly #seenAt: Float64Array;
  readonly #activeAtReport: Float64Array;
  /** Scratch space for one pick: each allowed endpoint's report and in-flight count (NaN: excluded). */
  readonly #reported: Float64Array;
  readonly #active: Float64Array;
  #next = 0;

  constructor(endpoints: readonly Endpoint[], load: LoadGauge, _options?: BalancerOptions) {
    this.#endpoints = endpoints.filter((e) => e.weight > 0);
    this.#load = load;
    this.#fallback = new LeastConnections(this.#endpoints, load);
    const count = this.#endpoints.length;
    this.#seenAt = new Float64Array(count).fill(Number.NaN);
    this.#activeAtReport = new Float64Array(count);
    this.#reported = new Float64Array(count);
    this.#active = new Float64Array(count);
  }

  pick(ctx: PickContext): Endpoint | undefined {
    const count = this.#endpoints.length;
    let totalReported = 0;
    let totalAtReport = 0;
    for (let i = 0; i < count; i++) {
      const endpoint = this.#endpoints[i]!;
      if (ctx.exclude?.has(endpoint.id)) {
        this.#reported[i] = Number.NaN;
        continue;
      }
      const reported = this.#load.reportedLoad?.(endpoint.id);
      if (reported === undefined) return this.#fallback.pick(ctx);
      const active = this.#load.active(endpoint.id);
      this.#noteReport(i, endpoint, active);
      this.#reported[i] = reported;
      this.#active[i] = active;
      totalReported += reported;
      totalAtReport += this.#activeAtReport[i]! + 1;
    }
    const perRequest = totalAtReport === 0 ? 0 : totalReported / totalAtReport;
    let best: Endpoint | undefined;
    let bestIndex = -1;
    let bestCost = 0;
    for (let offset = 0; offset < count; offset++) {
      const index = (this.#next + offset) % count;
      const reported = this.#reported[index]!;
      if (Number.isNaN(reported)) continue;
      const endpoint = this.#endpoints[index]!;
      const moved = this.#active[index]! - this.#activeAtReport[index]!;
      const cost = Math.max(0, reported + perRequest * moved) / endpoint.weight;
      if (best === undefined || cost < bestCost) {
        best = endpoint;
        bestIndex = index;
        bestCost = cost;
      }
    }
    if (best !== undefined && (ctx.exclude === undefined || ctx.exclude.size === 0)) {
      this.#next = (bestIndex + 1) % count;
    }
    return best;
  }

  /** A report not seen before starts a new projection from the requests in flight now. */
  #noteReport(index: number, endpoint: Endpoint, active: number): void {
    const at = this.#load.reportedAt?.(endpoint.id);
    if (at === undefined) {
      this.#activeAtReport[index] = active;
      return;
    }
    if (at === this.#seenAt[index]) return;
    this.#seenAt[index] = at;
    this.#activeAtReport[index] = active;
  }
}
