import type { EndpointCounters, LoadReport } from '../core/worker-report.js';
import { emptyCodeCounts, emptyDurationBuckets, sumTraffic } from '../core/traffic.js';
import type { EndpointCountersReport, WorkerReport } from './messages.js';

/**
 * The live counters of one endpoint summed over worker reports (the retired totals and each live worker's); of the
 * loads the instance reported, the latest any worker saw.
 */
export function sumCounters(
  reports: readonly (WorkerReport | undefined)[],
  service: string,
  endpoint: string,
): EndpointCounters {
  let loadReport: LoadReport | undefined;
  const sum = {
    inFlight: 0,
    requests: 0,
    stickyRequests: 0,
    bytesOut: 0,
    bytesIn: 0,
    responses: emptyCodeCounts(),
    durationBuckets: emptyDurationBuckets(),
  };
  for (const report of reports) {
    const c = report?.endpoints.find((r) => r.service === service && r.endpoint === endpoint);
    if (c === undefined) continue;
    sum.inFlight += c.inFlight;
    sum.requests += c.requests;
    sum.stickyRequests += c.stickyRequests;
    sum.bytesOut += c.bytesOut;
    sum.bytesIn += c.bytesIn;
    addCounts(sum.responses, c.responses);
    addCounts(sum.durationBuckets, c.durationBuckets);
    if (c.loadReport !== undefined && (loadReport === undefined || c.loadReport.at > loadReport.at)) {
      loadReport = c.loadReport;
    }
  }
  return loadReport === undefined ? sum : { ...sum, loadReport };
}

/** The retired totals plus a departed worker's last report, with its gauges (open, in flight) at zero. */
export function retire(
  retired: WorkerReport,
  last: WorkerReport | undefined,
): Pick<WorkerReport, 'traffic' | 'endpoints'> {
  if (last === undefined) return retired;
  const traffic = sumTraffic([
    retired.traffic,
    {
      ...last.traffic,
      listeners: last.traffic.listeners.map((l) => ({ ...l, open: 0 })),
      endpoints: last.traffic.endpoints.map((e) => ({ ...e, inFlight: 0 })),
      ...(last.traffic.overload === undefined
        ? {}
        : { overload: { ...last.traffic.overload, lagSeconds: 0, shedding: false } }),
    },
  ]);
  const endpoints = new Map<string, EndpointCountersReport>(
    retired.endpoints.map((e) => [`${e.service}\u0000${e.endpoint}`, { ...e }]),
  );
  for (const e of last.endpoints) {
    const key = `${e.service}\u0000${e.endpoint}`;
    const sum = endpoints.get(key);
    if (sum === undefined) endpoints.set(key, { ...e, inFlight: 0 });
    else
      endpoints.set(key, {
        ...sum,
        requests: sum.requests + e.requests,
        stickyRequests: sum.stickyRequests + e.stickyRequests,
        bytesOut: sum.bytesOut + e.bytesOut,
        bytesIn: sum.bytesIn + e.bytesIn,
        responses: addCounts([...(sum.responses ?? emptyCodeCounts())], e.responses),
        durationBuckets: addCounts([...(sum.durationBuckets ?? emptyDurationBuckets())], e.durationBuckets),
      });
  }
  return { traffic, endpoints: [...endpoints.values()] };
}

/** Requests a worker answered: every response class of every route. */
export function requestsOf(report: WorkerReport | undefined): number {
  let total = 0;
  for (const route of report?.traffic.routes ?? []) for (const n of route.codes) total += n;
  return total;
}

/** Adds `more` into `into` slot by slot (answer classes, latency buckets); returns `into`. */
function addCounts(into: number[], more: readonly number[] | undefined): number[] {
  if (more !== undefined) for (let i = 0; i < into.length; i++) into[i]! += more[i] ?? 0;
  return into;
}
