import type { Logger } from '../core/log.js';
import type { Snapshot } from '../core/snapshot.js';

/**
 * Logs each service that enters or leaves panic mode between two published snapshots: a warning when none of its
 * ready endpoints is healthy and it starts balancing over all of them, and a line when a healthy one is back.
 */
export function logPanicChanges(before: Snapshot | undefined, after: Snapshot, log: Logger): void {
  for (const [name, service] of Object.entries(after.services)) {
    const was = before?.services[name]?.panic ?? false;
    if (service.panic === was) continue;
    const ready = service.endpoints.filter((e) => e.state === 'ready' && e.weight > 0).length;
    if (service.panic)
      log.warn(
        { service: name, endpoints: ready },
        'panic mode: no ready endpoint is healthy; balancing over all of them instead of answering 503',
      );
    else log.info({ service: name }, 'panic mode over: a healthy endpoint is back');
  }
}
