import type { EndpointStatus } from '../control/control-plane.js';

/** An epoch-ms time as ISO 8601, or null when unset. */
export const iso = (epochMs: number | undefined): string | null =>
  epochMs === undefined ? null : new Date(epochMs).toISOString();

/** What the control plane knows of an endpoint, on the wire: shared by the admin API and the dashboard's stream. */
export function endpointStatusJson(status: EndpointStatus) {
  return {
    id: status.id,
    url: status.url,
    source: status.source,
    state: status.state,
    health: status.health,
    weight: status.weight,
    effectiveWeight: Math.round(status.effectiveWeight * 1000) / 1000,
    lastCheck:
      status.lastCheck === undefined
        ? null
        : {
            at: new Date(status.lastCheck.at).toISOString(),
            ok: status.lastCheck.ok,
            detail: status.lastCheck.detail,
            durationMs: status.lastCheck.durationMs,
          },
    ejection:
      status.ejection === undefined ? null : { until: iso(status.ejection.until), count: status.ejection.count },
  };
}
