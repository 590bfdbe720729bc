import type { EndpointId } from '../../core/endpoint.js';
import type { LoadGauge } from '../balancing/balancer.js';

/** A live counter of one endpoint's requests in flight; the same object survives snapshot swaps. */
export interface InFlightCounter {
  inFlight: number;
}

/**
 * In-flight request counts per service endpoint, owned by the data plane. Counters are kept across snapshots so a
 * config change does not forget the requests still running; load-aware algorithms read them through `LoadGauge`.
 */
export class InFlightGauges {
  #counters = new Map<string, InFlightCounter>();

  /** The counter for an endpoint of a service, created at zero on first use. */
  counter(service: string, id: EndpointId): InFlightCounter {
    const key = `${service}\u0000${id}`;
    let counter = this.#counters.get(key);
    if (counter === undefined) {
      counter = { inFlight: 0 };
      this.#counters.set(key, counter);
    }
    return counter;
  }

  /** Forgets counters of endpoints no longer present once their requests are done. */
  retain(keep: ReadonlySet<InFlightCounter>): void {
    for (const [key, counter] of this.#counters) {
      if (!keep.has(counter) && counter.inFlight === 0) this.#counters.delete(key);
    }
  }

  /** A `LoadGauge` over one service's counters (for load-aware balancers). */
  gauge(service: string): LoadGauge {
    return { active: (id) => this.#counters.get(`${service}\u0000${id}`)?.inFlight ?? 0 };
  }
}
