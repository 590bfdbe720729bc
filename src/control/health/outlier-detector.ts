import type { OutlierConfig } from '../../config/schema.js';
import type { EndpointId } from '../../core/endpoint.js';
import type { Logger } from '../../core/log.js';
import { registryKey } from '../registry/registry-store.js';

interface Ejection {
  /** Epoch ms the current ejection ends; undefined when not ejected now. */
  until: number | undefined;
  /** Ejections so far: the next one lasts base × (count + 1). */
  count: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Passive health (Envoy's outlier detection): the data plane reports each gateway-error streak of an endpoint; at
 * `consecutiveErrors` the endpoint is ejected for `baseEjectionMs` × n (n = its ejections so far), unless that would
 * eject more than `maxEjectionPercent` of the service (so a lone endpoint is never ejected; panic mode would use it).
 */
export class OutlierDetector {
  readonly #now: () => number;
  readonly #onChange: (service: string, id: EndpointId, ejected: boolean) => void;
  readonly #log: Logger;
  readonly #ejections = new Map<string, Ejection>();

  /** When "ejection limit reached" was last logged per endpoint (the log is throttled). */
  readonly #limitLoggedAt = new Map<string, number>();

  constructor(options: {
    readonly now?: () => number;
    readonly log: Logger;
    readonly onChange: (service: string, id: EndpointId, ejected: boolean) => void;
  }) {
    this.#now = options.now ?? Date.now;
    this.#log = options.log;
    this.#onChange = options.onChange;
  }

  /**
   * A streak of `consecutiveErrors` gateway errors (connect failures, resets, 502/503/504) seen by the data plane.
   * `serviceIds` are the service's endpoints, to bound how many may be ejected at once. Returns true on ejection.
   */
  report(
    service: string,
    id: EndpointId,
    consecutiveErrors: number,
    config: OutlierConfig,
    serviceIds: readonly EndpointId[],
  ): boolean {
    if (!config.enabled || consecutiveErrors < config.consecutiveErrors) return false;
    const key = registryKey(service, id);
    const ejection = this.#ejections.get(key) ?? { until: undefined, count: 0, timer: undefined };
    if (ejection.until !== undefined) return false;
    const ejectedNow = serviceIds.filter((other) => this.isEjected(service, other)).length;
    const allowed = Math.floor((serviceIds.length * config.maxEjectionPercent) / 100);
    if (ejectedNow >= allowed) {
      // Every further failure of the endpoint lands here (thousands a second under load): one line per 10 s.
      const now = this.#now();
      if (now - (this.#limitLoggedAt.get(key) ?? -Infinity) >= 10_000) {
        this.#limitLoggedAt.set(key, now);
        this.#log.warn({ service, endpoint: id, ejectedNow, allowed }, 'outlier not ejected: ejection limit reached');
      }
      return false;
    }
    ejection.count++;
    const durationMs = config.baseEjectionMs * ejection.count;
    ejection.until = this.#now() + durationMs;
    ejection.timer = setTimeout(() => this.#release(service, id), durationMs);
    ejection.timer.unref();
    this.#ejections.set(key, ejection);
    this.#log.info(
      { service, endpoint: id, consecutiveErrors, durationMs, ejections: ejection.count },
      'endpoint ejected',
    );
    this.#onChange(service, id, true);
    return true;
  }

  isEjected(service: string, id: EndpointId): boolean {
    return this.#ejections.get(registryKey(service, id))?.until !== undefined;
  }

  /** When the current ejection ends (epoch ms) and how many there were, for the admin API. */
  ejection(service: string, id: EndpointId): { readonly until?: number; readonly count: number } | undefined {
    const ejection = this.#ejections.get(registryKey(service, id));
    return ejection === undefined
      ? undefined
      : { count: ejection.count, ...(ejection.until === undefined ? {} : { until: ejection.until }) };
  }

  /** Forgets endpoints that no longer exist. */
  retain(alive: ReadonlySet<string>): void {
    for (const [key, ejection] of this.#ejections) {
      if (alive.has(key)) continue;
      clearTimeout(ejection.timer);
      this.#ejections.delete(key);
    }
  }

  close(): void {
    for (const ejection of this.#ejections.values()) clearTimeout(ejection.timer);
    this.#ejections.clear();
  }

  #release(service: string, id: EndpointId): void {
    const ejection = this.#ejections.get(registryKey(service, id));
    if (ejection === undefined) return;
    ejection.until = undefined;
    ejection.timer = undefined;
    this.#log.info({ service, endpoint: id }, 'ejection ended');
    this.#onChange(service, id, false);
  }
}
