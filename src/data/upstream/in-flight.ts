import type { EndpointId } from '../../core/endpoint.js';
import type { ServiceSnapshot } from '../../core/snapshot.js';
import type { LoadGauge } from '../balancing/balancer.js';
import { RetryBudget } from './retry-budget.js';
import { grpcStatusCount, tlsFailureClasses, type EndpointTraffic, type ServiceTraffic } from '../../core/traffic.js';
import { EndpointGauge } from './endpoint-gauge.js';

/** One service's gauges, built at `apply()` time: by endpoint id, and the `LoadGauge` its balancer reads. */
export interface ServiceGauges {
  readonly byId: ReadonlyMap<EndpointId, EndpointGauge>;
  readonly load: LoadGauge;
}

/**
 * The gauges of every service endpoint, owned by the data plane and kept across snapshots so that a config change
 * does not forget the requests still running. Keys are built here, at `apply()` time and for the admin API, never
 * per request: a request reaches its endpoint's gauge through the compiled runtime.
 */
export class InFlightGauges {
  #gauges = new Map<string, Map<EndpointId, EndpointGauge>>();
  /** Each service's total in flight, which its endpoints' gauges move with theirs. */
  #totals = new Map<string, { inFlight: number }>();
  #budgets = new Map<string, RetryBudget>();
  #services = new Map<string, ServiceTraffic>();

  /** The gauge of an endpoint of a service, created at zero on first use. */
  counter(service: string, id: EndpointId): EndpointGauge {
    let byId = this.#gauges.get(service);
    if (byId === undefined) {
      byId = new Map();
      this.#gauges.set(service, byId);
    }
    let gauge = byId.get(id);
    if (gauge === undefined) {
      let total = this.#totals.get(service);
      if (total === undefined) {
        total = { inFlight: 0 };
        this.#totals.set(service, total);
      }
      gauge = new EndpointGauge(total);
      byId.set(id, gauge);
    }
    return gauge;
  }

  /**
   * The gauges of one service's endpoints and the `LoadGauge` over them (reports older than
   * `balancing.leastLoad.staleMs` are ignored). Called at `apply()` time.
   */
  forService(service: ServiceSnapshot): ServiceGauges {
    const byId = new Map<EndpointId, EndpointGauge>();
    for (const endpoint of service.endpoints) byId.set(endpoint.id, this.counter(service.name, endpoint.id));
    const { staleMs } = service.balancing.leastLoad;
    const total = this.#totals.get(service.name) ?? { inFlight: 0 };
    const load: LoadGauge = {
      active: (id) => byId.get(id)?.inFlight ?? 0,
      totalActive: () => total.inFlight,
      latencyMs: (id) => byId.get(id)?.latencyMs(Date.now()),
      reportedLoad: (id) => byId.get(id)?.freshLoad(staleMs, Date.now()),
      reportedAt: (id) => byId.get(id)?.reportedAt,
    };
    return { byId, load };
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
      counters = {
        service,
        retries: 0,
        grpcStatuses: new Array<number>(grpcStatusCount).fill(0),
        tlsFailures: new Array<number>(tlsFailureClasses.length).fill(0),
      };
      this.#services.set(service, counters);
    }
    return counters;
  }

  /** A copy of every endpoint's in-flight count, answers and bytes, and every service's retries (for metrics). */
  report(): { endpoints: EndpointTraffic[]; services: ServiceTraffic[] } {
    const endpoints: EndpointTraffic[] = [];
    for (const [service, byId] of this.#gauges) {
      for (const [endpoint, gauge] of byId) {
        endpoints.push({
          service,
          endpoint,
          inFlight: gauge.inFlight,
          codes: [...gauge.responses],
          durationBuckets: [...gauge.durationBuckets],
          bytesOut: gauge.bytesOut,
          bytesIn: gauge.bytesIn,
        });
      }
    }
    return {
      endpoints,
      services: [...this.#services.values()].map((s) => ({
        ...s,
        ...(s.grpcStatuses === undefined ? {} : { grpcStatuses: [...s.grpcStatuses] }),
        ...(s.tlsFailures === undefined ? {} : { tlsFailures: [...s.tlsFailures] }),
      })),
    };
  }

  /** Forgets gauges of endpoints no longer present once nothing is in flight to them. */
  retain(keep: ReadonlySet<EndpointGauge>): void {
    for (const [service, byId] of this.#gauges) {
      for (const [id, gauge] of byId) if (!keep.has(gauge) && gauge.inFlight === 0) byId.delete(id);
      if (byId.size === 0) this.#gauges.delete(service);
    }
  }
}
