import type { EndpointId } from '../../core/endpoint.js';
import type { LoadGauge } from '../balancing/balancer.js';
import { RetryBudget } from '../proxy/retry-budget.js';

/** Live counters of one endpoint in this process; the same object survives snapshot swaps. */
export interface InFlightCounter {
  /** Requests (later: tunnels) in flight to the endpoint. */
  inFlight: number;
  /** Gateway errors in a row (reported to the control plane, which decides on ejection); a success resets it. */
  consecutiveErrors: number;
}

/**
 * Counters per service and per service endpoint, owned by the data plane. They are kept across snapshots so a
 * config change does not forget the requests still running; load-aware algorithms read them through `LoadGauge`.
 */
export class InFlightGauges {
  #counters = new Map<string, InFlightCounter>();
  #budgets = new Map<string, RetryBudget>();

  /** The counter for an endpoint of a service, created at zero on first use. */
  counter(service: string, id: EndpointId): InFlightCounter {
    const key = `${service}\u0000${id}`;
    let counter = this.#counters.get(key);
    if (counter === undefined) {
      counter = { inFlight: 0, consecutiveErrors: 0 };
      this.#counters.set(key, counter);
    }
    return counter;
  }

  /** The retry budget of a service, kept across snapshots. */
  retryBudget(service: string): RetryBudget {
    let budget = this.#budgets.get(service);
    if (budget === undefined) {
      budget = new RetryBudget();
      this.#budgets.set(service, budget);
    }
    return budget;
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
