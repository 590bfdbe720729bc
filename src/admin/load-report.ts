import { balancingSchema } from '../config/service-schema.js';
import type { EndpointStatus } from '../control/control-plane.js';
import type { EndpointCounters, LoadReport } from '../core/worker-report.js';

/** `balancing.leastLoad.staleMs` of a service the configuration does not name (one only registered). */
export const defaultStaleMs = balancingSchema.parse({}).leastLoad.staleMs;

/** How an endpoint's reported load reads in `GET /api/services/{service}`. */
export interface LoadJson {
  /** The latest load the instance reported, however it came; null before any report. */
  readonly load: number | null;
  /**
   * Where that report came from (`header`: an `X-Load` response header; `heartbeat`: `PUT …/heartbeat {load}`), when
   * (ISO 8601), how old it is, and whether least-load already ignores it as older than `balancing.leastLoad.staleMs`.
   */
  readonly loadReport: {
    readonly source: LoadReport['source'];
    readonly at: string;
    readonly ageMs: number;
    readonly stale: boolean;
  } | null;
}

/**
 * The load fields of an endpoint: the newer of the heartbeat the control plane holds and the report the data plane
 * holds (an `X-Load` header, or a heartbeat it was given with the snapshot).
 */
export function loadJson(
  status: EndpointStatus,
  counters: EndpointCounters,
  staleMs: number,
  nowMs: number = Date.now(),
): LoadJson {
  let report = counters.loadReport;
  if (status.load !== undefined && status.loadReportedAt !== undefined) {
    if (report === undefined || status.loadReportedAt > report.at) {
      report = { value: status.load, at: status.loadReportedAt, source: 'heartbeat' };
    }
  }
  if (report === undefined) return { load: null, loadReport: null };
  const ageMs = Math.max(0, nowMs - report.at);
  return {
    load: report.value,
    loadReport: { source: report.source, at: new Date(report.at).toISOString(), ageMs, stale: ageMs > staleMs },
  };
}
