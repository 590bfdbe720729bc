import type { Endpoint, EndpointId } from '../core/endpoint.js';
import type { Balancer, PickContext } from '../data/balancing/balancer.js';

/**
 * Emulates Switchyard's stickiness keys around any balancer: a returning client (its key is `ctx.hashKey`) goes to
 * the endpoint it was first given while that endpoint is eligible and not excluded; otherwise the inner balancer
 * picks and the client gets a new key. The keys outlive balancer rebuilds, as cookies outlive snapshots.
 */
export class StickyBalancer implements Balancer {
  readonly #inner: Balancer;
  readonly #byId: ReadonlyMap<EndpointId, Endpoint>;
  readonly #keys: Map<string, EndpointId>;

  /** @param keys the clients' keys, shared by every rebuild of one run. */
  constructor(inner: Balancer, endpoints: readonly Endpoint[], keys: Map<string, EndpointId>) {
    this.#inner = inner;
    this.#byId = new Map(endpoints.map((e) => [e.id, e]));
    this.#keys = keys;
  }

  pick(ctx: PickContext): Endpoint | undefined {
    const client = ctx.hashKey;
    if (client !== undefined) {
      const id = this.#keys.get(client);
      const kept = id === undefined ? undefined : this.#byId.get(id);
      if (kept !== undefined && !ctx.exclude?.has(kept.id)) return kept;
    }
    const picked = this.#inner.pick(ctx);
    if (picked !== undefined && client !== undefined) this.#keys.set(client, picked.id);
    return picked;
  }
}
