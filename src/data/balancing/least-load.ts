import type { Endpoint } from '../../core/endpoint.js';
import type { Balancer, BalancerOptions, LoadGauge, PickContext } from './balancer.js';
import { LeastConnections } from './least-connections.js';

/**
 * Least reported load (what traefik/traefik#3745 asks for; Envoy's ORCA in spirit): each instance reports its own load
 * (heartbeat or `X-Load` header, any non-negative number, e.g. CPU share or queue length) and the endpoint with the
 * lowest `load.reportedLoad(id) ÷ weight` wins; equal endpoints take turns as in {@link LeastConnections}.
 *
 * The gauge decides freshness (`balancing.leastLoad.staleMs`) and answers undefined for a missing or stale report.
 * When any allowed endpoint of a pick has none, that whole pick falls back to least connections: reported loads and
 * in-flight counts are in different units, so they cannot be compared with each other endpoint by endpoint. The
 * reports are used again as soon as every allowed endpoint has a fresh one.
 *
 * A retry (a pick with exclusions) does not move the turn. Weight-0 endpoints take no traffic. O(n) a pick.
 */
export class LeastLoad implements Balancer {
  readonly #endpoints: readonly Endpoint[];
  readonly #load: LoadGauge;
  readonly #fallback: LeastConnections;
  #next = 0;

  constructor(endpoints: readonly Endpoint[], load: LoadGauge, _options?: BalancerOptions) {
    this.#endpoints = endpoints.filter((e) => e.weight > 0);
    this.#load = load;
    this.#fallback = new LeastConnections(this.#endpoints, load);
  }

  pick(ctx: PickContext): Endpoint | undefined {
    const count = this.#endpoints.length;
    let best: Endpoint | undefined;
    let bestIndex = -1;
    let bestLoad = 0;
    for (let offset = 0; offset < count; offset++) {
      const index = (this.#next + offset) % count;
      const endpoint = this.#endpoints[index]!;
      if (ctx.exclude?.has(endpoint.id)) continue;
      const load = this.#load.reportedLoad?.(endpoint.id);
      if (load === undefined) return this.#fallback.pick(ctx);
      if (best === undefined || load * best.weight < bestLoad * endpoint.weight) {
        best = endpoint;
        bestIndex = index;
        bestLoad = load;
      }
    }
    if (best !== undefined && (ctx.exclude === undefined || ctx.exclude.size === 0)) {
      this.#next = (bestIndex + 1) % count;
    }
    return best;
  }
}
