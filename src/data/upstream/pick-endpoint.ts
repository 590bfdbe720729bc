import type { EndpointId } from '../../core/endpoint.js';
import type { PickContext } from '../balancing/balancer.js';
import type { EndpointRuntime, ServiceRuntime } from '../runtime.js';

const noExclusions: PickContext = {};

/**
 * The endpoint for one attempt of a request or tunnel: the one stickiness chose, on the first attempt; otherwise the
 * service's algorithm, given the request's hash key (consistent-hash) and the endpoints already tried (a retry never
 * re-picks them). Undefined when nothing is left.
 */
export function pickEndpoint(
  service: ServiceRuntime,
  preferred: EndpointRuntime | undefined,
  tried: ReadonlySet<EndpointId> | undefined,
  hashKeyOf: () => string | undefined,
): EndpointRuntime | undefined {
  if (tried === undefined && preferred !== undefined) return preferred;
  let ctx: PickContext = tried === undefined ? noExclusions : { exclude: tried };
  if (service.hashKey !== undefined) {
    const hashKey = hashKeyOf();
    if (hashKey !== undefined) ctx = { ...ctx, hashKey };
  }
  const picked = service.balancer.pick(ctx);
  return picked === undefined ? undefined : service.endpoints.get(picked.id);
}

/**
 * Counts a gateway error against the endpoint and tells the control plane the streak (it decides on ejection), for
 * requests and tunnels alike.
 */
export function reportFailure(service: ServiceRuntime, endpoint: EndpointRuntime): void {
  endpoint.load.consecutiveErrors++;
  service.facts.upstreamFailure(service.snapshot.name, endpoint.endpoint.id, endpoint.load.consecutiveErrors);
}
