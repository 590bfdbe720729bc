import type { EndpointId } from '../../core/endpoint.js';
import type { BalancingConfig } from '../../core/snapshot.js';
import type { LoadGauge } from '../balancing/balancer.js';
import type { PeakEwmaEstimator } from '../balancing/peak-ewma.js';
import { RetryBudget } from './retry-budget.js';
import {
  emptyCodeCounts,
  emptyDurationBuckets,
  type EndpointTraffic,
  type ServiceTraffic,
} from '../../core/traffic.js';

/** Live counters of one endpoint in this process; the same object survives snapshot swaps. */
export interface InFlightCounter {
  /** Requests (later: tunnels) in flight to the endpoint. */
  inFlight: number;
  /** Gateway errors in a row (reported to the control plane, which decides on ejection); a success resets it. */
  consecutiveErrors: number;
  /** Requests sent to the endpoint, and how many of them because a stickiness key or hash chose it. */
  requests: number;
  stickyRequests: number;
  /** Upstream answers by `codeClasses` index (index 0: the attempt got no response head), for metrics. */
  readonly responses: number[];
  /** Answered attempts by time from sent to response end (`durationBucketIndex`), for per-endpoint percentiles. */
  readonly durationBuckets: number[];
  /** L4 connections and UDP sessions: bytes sent to the endpoint and received from it. */
  bytesOut: number;
  bytesIn: number;
  /** Peak-EWMA of response times (for `peak-ewma`), created on the first response measured. */
  latency?: PeakEwmaEstimator;
  /** The load the instance last reported (heartbeat or `X-Load`), and when (epoch ms). */
  reportedLoad?: number;
  reportedAt?: number;
}

/**
 * Counters per service and per service endpoint, owned by the data plane. They are kept across snapshots so a
 * config change does not forget the requests still running; load-aware algorithms read them through `LoadGauge`.
 */
export class InFlightGauges {
  #counters = new Map<string, InFlightCounter>();
  #budgets = new Map<string, RetryBudget>();
  #services = new Map<string, ServiceTraffic>();

  /** The counter for an endpoint of a service, created at zero on first use. */
  counter(service: string, id: EndpointId): InFlightCounter {
    const key = `${service}\u0000${id}`;
    let counter = this.#counters.get(key);
    if (counter === undefined) {
      counter = {
        inFlight: 0,
        consecutiveErrors: 0,
        requests: 0,
        stickyRequests: 0,
        responses: emptyCodeCounts(),
        durationBuckets: emptyDurationBuckets(),
        bytesOut: 0,
        bytesIn: 0,
      };
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

  /** The counters of a service (retries), kept across snapshots. */
  serviceCounters(service: string): ServiceTraffic {
    let counters = this.#services.get(service);
    if (counters === undefined) {
      counters = { service, retries: 0 };
      this.#services.set(service, counters);
    }
    return counters;
  }

  /** A copy of every endpoint's in-flight count and answers, and every service's retries (for metrics). */
  report(): { endpoints: EndpointTraffic[]; services: ServiceTraffic[] } {
    const endpoints: EndpointTraffic[] = [];
    for (const [key, counter] of this.#counters) {
      const split = key.indexOf('\u0000');
      endpoints.push({
        service: key.slice(0, split),
        endpoint: key.slice(split + 1),
        inFlight: counter.inFlight,
        codes: [...counter.responses],
        durationBuckets: [...counter.durationBuckets],
        bytesOut: counter.bytesOut,
        bytesIn: counter.bytesIn,
      });
    }
    return { endpoints, services: [...this.#services.values()].map((s) => ({ ...s })) };
  }

  /** Forgets counters of endpoints no longer present once their requests are done. */
  retain(keep: ReadonlySet<InFlightCounter>): void {
    for (const [key, counter] of this.#counters) {
      if (!keep.has(counter) && counter.inFlight === 0) this.#counters.delete(key);
    }
  }

  /** A `LoadGauge` over one service's counters (for load-aware balancers); reports older than `staleMs` are ignored. */
  gauge(service: string, balancing: BalancingConfig): LoadGauge {
    const counter = (id: string): InFlightCounter | undefined => this.#counters.get(`${service}\u0000${id}`);
    const { staleMs } = balancing.leastLoad;
    return {
      active: (id) => counter(id)?.inFlight ?? 0,
      latencyMs: (id) => counter(id)?.latency?.value(Date.now()),
      reportedLoad: (id) => {
        const c = counter(id);
        return c?.reportedAt !== undefined && Date.now() - c.reportedAt <= staleMs ? c.reportedLoad : undefined;
      },
      reportedAt: (id) => counter(id)?.reportedAt,
    };
  }
}
