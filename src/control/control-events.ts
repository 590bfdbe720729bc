import type { AdminState, EndpointId, Health } from '../core/endpoint.js';
import type { EndpointSource } from './registry/registry.js';

/** Fields every endpoint event carries. `at` is epoch ms. */
interface EndpointEventBase {
  readonly at: number;
  readonly service: string;
  readonly endpoint: EndpointId;
}

/**
 * Something that changed in what the control plane publishes, in the order it was published: membership
 * (registrations, DNS, config), health flips (active checks, and `ejected` from outlier detection), admin state and
 * configured weight, configuration changes. Plain JSON: the admin API streams them as they are (`GET /api/events`).
 * Slow-start ramps are not events (the effective weight moves every second; the stats stream carries it).
 */
export type ControlEvent =
  | (EndpointEventBase & {
      readonly type: 'endpoint-added';
      readonly url: string;
      readonly source: EndpointSource;
    })
  | (EndpointEventBase & {
      readonly type: 'endpoint-removed';
      readonly url: string;
      readonly source: EndpointSource;
      /** `lease expired` when its registration's lease ran out; otherwise absent. */
      readonly reason?: string;
    })
  | (EndpointEventBase & {
      readonly type: 'health';
      readonly from: Health;
      readonly to: Health;
      /** The last active check's result (`HTTP 503`, `connect ECONNREFUSED …`), or the outlier detector's reason. */
      readonly detail?: string;
      /** For `to: 'ejected'`: until when (epoch ms) and how many ejections so far. */
      readonly ejection?: { readonly until?: number; readonly count: number };
    })
  | (EndpointEventBase & { readonly type: 'state'; readonly from: AdminState; readonly to: AdminState })
  | (EndpointEventBase & { readonly type: 'weight'; readonly from: number; readonly to: number })
  | {
      readonly type: 'config';
      readonly at: number;
      readonly ok: boolean;
      /** The snapshot version the new configuration was published as (`ok`), else absent. */
      readonly version?: number;
      /** Why a configuration was refused (`!ok`). */
      readonly problems?: readonly string[];
    };

export type ControlEventListener = (event: ControlEvent) => void;

/** How many past events `recent()` keeps. */
const recentLimit = 200;

/**
 * A small synchronous event emitter for `ControlEvent`s, with the most recent ones kept so that a dashboard that
 * connects later can show what happened before it came. A listener that throws is ignored (it cannot break the
 * control plane), and listeners must not block: the admin API's event stream only queues the event.
 */
export class ControlEvents {
  readonly #listeners = new Set<ControlEventListener>();
  readonly #recent: ControlEvent[] = [];

  /** Calls `listener` with every event from now on; returns the function that stops it. */
  subscribe(listener: ControlEventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(event: ControlEvent): void {
    this.#recent.push(event);
    if (this.#recent.length > recentLimit) this.#recent.splice(0, this.#recent.length - recentLimit);
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // A subscriber's fault must not stop the publication that raised the event.
      }
    }
  }

  /** The last events (at most 200), oldest first. */
  recent(): readonly ControlEvent[] {
    return [...this.#recent];
  }
}
