import type { ControlPlane, EndpointStatus } from '../control/control-plane.js';
import { durationBucketsSeconds } from '../core/traffic.js';
import type { EndpointCounters } from '../core/worker-report.js';
import { endpointStatusJson } from './endpoint-status.js';

/** What one endpoint did over the last window, derived from two samples of its counters. */
export interface EndpointRates {
  /** Requests (L4: connections) sent to it per second. */
  readonly requestRate: number;
  /** Share (0–1) of the window's answered-or-failed attempts that got a 5xx or no response at all; null without any. */
  readonly errorRate: number | null;
  /** Estimated from the latency buckets (linear within a bucket, as Prometheus' `histogram_quantile`); null without. */
  readonly latencyMs: { readonly p50: number; readonly p99: number } | null;
  /**
   * Share (0–1) of the window's requests a stickiness key or hash sent to this endpoint; null without any, or when
   * the service has no stickiness.
   */
  readonly stickyShare: number | null;
}

/** One endpoint as the dashboard and `switchyard status` show it (JSON: the `stats` event of `GET /api/events`). */
export interface EndpointLive extends EndpointRates {
  readonly id: string;
  readonly url: string;
  readonly source: string;
  readonly state: string;
  readonly health: string;
  readonly weight: number;
  /** The weight the balancer uses now: below `weight` while slow start ramps the endpoint up. */
  readonly effectiveWeight: number;
  readonly lastCheck: {
    readonly at: string;
    readonly ok: boolean;
    readonly detail: string;
    readonly durationMs: number;
  } | null;
  readonly ejection: { readonly until: string | null; readonly count: number } | null;
  /** Requests in flight (L4: open connections, UDP sessions). */
  readonly inFlight: number;
  /** Requests (L4: connections) sent to it since the balancer started. */
  readonly requests: number;
  /** Requests sent to it during the last sampling interval (the balance chart's newest point). */
  readonly recent: number;
  readonly bytes: { readonly toEndpoint: number; readonly fromEndpoint: number };
}

export interface ServiceLive {
  readonly name: string;
  readonly algorithm: string | null;
  /** A tcp, tls-passthrough or udp listener sends to it: in-flight counts connections. */
  readonly l4: boolean;
  readonly panic: boolean;
  readonly endpoints: readonly EndpointLive[];
}

/** The `stats` event. */
export interface LiveView {
  /** ISO time of the sample. */
  readonly at: string;
  readonly intervalMs: number;
  readonly services: readonly ServiceLive[];
}

export interface LiveStatsOptions {
  readonly control: ControlPlane;
  readonly counters: (service: string, endpoint: string) => EndpointCounters;
  /** Gathers fresh counters before each sample (with workers: each worker's report); none in one process. */
  readonly refresh?: () => Promise<void>;
  /** Sampling interval (ms); default 1000. */
  readonly intervalMs?: number;
  /** Rates, error rates, percentiles and sticky shares cover this many intervals; default 10. */
  readonly windowIntervals?: number;
  /** Per-interval request counts kept for the balance chart; default 180 (3 minutes at 1 s). */
  readonly historyLength?: number;
  readonly now?: () => number;
}

/** The cumulative counters of one endpoint at one instant. */
interface Sample {
  readonly at: number;
  readonly requests: number;
  readonly sticky: number;
  readonly attempts: number;
  readonly errors: number;
  readonly durations: readonly number[];
}

interface Track {
  /** The service has stickiness configured (otherwise the sticky share is null, not 0). */
  sticky: boolean;
  /** Oldest first, at most `windowIntervals + 1`. */
  readonly samples: Sample[];
  /** Requests per interval, oldest first, at most `historyLength`. */
  readonly history: number[];
}

/**
 * Samples every endpoint's live counters once per interval (a timer, unref'd) and derives what a person watching
 * wants: request rate, error rate, p50/p99 latency and sticky share over a sliding window, and a short history of
 * requests per interval for the balance chart. It reads the same plain counters as the admin API, so the request
 * path pays nothing for it; one sample of 50 services × 20 endpoints is a few hundred microseconds.
 */
export class LiveStats {
  readonly #control: ControlPlane;
  readonly #counters: LiveStatsOptions['counters'];
  readonly #refresh: LiveStatsOptions['refresh'];
  #sampling = false;
  readonly #now: () => number;
  readonly #window: number;
  readonly #historyLength: number;
  readonly #tracks = new Map<string, Track>();
  readonly #listeners = new Set<(view: LiveView) => void>();
  readonly intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #view: LiveView = { at: new Date(0).toISOString(), intervalMs: 0, services: [] };

  constructor(options: LiveStatsOptions) {
    this.#control = options.control;
    this.#counters = options.counters;
    this.#refresh = options.refresh;
    this.#now = options.now ?? Date.now;
    this.intervalMs = options.intervalMs ?? 1_000;
    this.#window = options.windowIntervals ?? 10;
    this.#historyLength = options.historyLength ?? 180;
  }

  /** Takes a first sample now, then one every interval. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.sample();
    this.#timer = setInterval(() => void this.#tick(), this.intervalMs);
    this.#timer.unref();
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#listeners.clear();
  }

  /** Calls `listener` with the view after every sample; returns the function that stops it. */
  subscribe(listener: (view: LiveView) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The view as of the last sample. */
  view(): LiveView {
    return this.#view;
  }

  /**
   * The view as of now for what the control plane knows (membership, state, health, weight) and the live counters,
   * with the rates of the last sample: a client that connects right after a drain sees it, not the view of up to one
   * interval ago. Takes no sample (the rate windows stay evenly spaced).
   */
  current(): LiveView {
    let config;
    try {
      config = this.#control.config;
    } catch {
      return this.#view;
    }
    const last = new Map(this.#view.services.map((s) => [s.name, s] as const));
    const services = this.#control.registry.services().map((name): ServiceLive => {
      const before = last.get(name);
      const recent = new Map(before?.endpoints.map((e) => [e.id, e.recent] as const));
      const endpoints = this.#control.endpointStatuses(name).map((status): EndpointLive => {
        const counters = this.#counters(name, status.id);
        const track = this.#tracks.get(`${name}\u0000${status.id}`);
        return {
          ...endpointStatusJson(status),
          inFlight: counters.inFlight,
          requests: counters.requests,
          recent: recent.get(status.id) ?? 0,
          bytes: { toEndpoint: counters.bytesOut, fromEndpoint: counters.bytesIn },
          ...(track === undefined ? ratesOf({ sticky: false, samples: [], history: [] }) : ratesOf(track)),
        };
      });
      return {
        name,
        algorithm: config.services[name]?.algorithm ?? null,
        l4: before?.l4 ?? false,
        panic: this.#control.snapshot?.services[name]?.panic ?? false,
        endpoints,
      };
    });
    return { at: new Date(this.#now()).toISOString(), intervalMs: this.intervalMs, services };
  }

  /** The rates of one endpoint as of the last sample (for `GET /api/services/{service}`). */
  rates(service: string, endpoint: string): EndpointRates | undefined {
    const track = this.#tracks.get(`${service}\u0000${endpoint}`);
    return track === undefined ? undefined : ratesOf(track);
  }

  /** Requests per interval of one endpoint, oldest first (the balance chart's past). */
  history(service: string, endpoint: string): readonly number[] {
    return this.#tracks.get(`${service}\u0000${endpoint}`)?.history ?? [];
  }

  async #tick(): Promise<void> {
    if (this.#sampling) return; // a slow refresh skips a beat rather than piling up
    this.#sampling = true;
    try {
      await this.#refresh?.();
    } catch {
      // The counters read last time stand; the sample still goes out.
    } finally {
      this.#sampling = false;
    }
    if (this.#timer !== undefined) this.sample();
  }

  /** Samples every endpoint now and tells the subscribers. */
  sample(): LiveView {
    const at = this.#now();
    const seen = new Set<string>();
    const services: ServiceLive[] = [];
    let config;
    try {
      config = this.#control.config;
    } catch {
      return this.#view; // not started yet
    }
    for (const name of this.#control.registry.services()) {
      const sticky = config.services[name]?.stickiness !== undefined;
      const endpoints = this.#control
        .endpointStatuses(name)
        .map((status) => this.#sampleEndpoint(name, sticky, status, at, seen));
      const l4 = config.listeners.some(
        (l) =>
          l.protocol !== 'http' &&
          l.protocol !== 'https' &&
          (l.service === name || (l.routes?.some((r) => r.service === name) ?? false)),
      );
      services.push({
        name,
        algorithm: config.services[name]?.algorithm ?? null,
        l4,
        panic: this.#control.snapshot?.services[name]?.panic ?? false,
        endpoints,
      });
    }
    for (const key of this.#tracks.keys()) if (!seen.has(key)) this.#tracks.delete(key);
    this.#view = { at: new Date(at).toISOString(), intervalMs: this.intervalMs, services };
    for (const listener of this.#listeners) listener(this.#view);
    return this.#view;
  }

  #sampleEndpoint(
    service: string,
    sticky: boolean,
    status: EndpointStatus,
    at: number,
    seen: Set<string>,
  ): EndpointLive {
    const key = `${service}\u0000${status.id}`;
    seen.add(key);
    const counters = this.#counters(service, status.id);
    const codes = counters.responses ?? noCounts;
    const sample: Sample = {
      at,
      requests: counters.requests,
      sticky: counters.stickyRequests,
      attempts: sum(codes),
      errors: (codes[0] ?? 0) + (codes[5] ?? 0),
      durations: [...(counters.durationBuckets ?? noCounts)],
    };
    let track = this.#tracks.get(key);
    if (track === undefined) {
      track = { sticky, samples: [], history: [] };
      this.#tracks.set(key, track);
    }
    track.sticky = sticky;
    const previous = track.samples.at(-1);
    const recent = previous === undefined ? 0 : Math.max(0, sample.requests - previous.requests);
    track.samples.push(sample);
    if (track.samples.length > this.#window + 1) track.samples.shift();
    if (previous !== undefined) {
      track.history.push(recent);
      if (track.history.length > this.#historyLength) track.history.shift();
    }
    return {
      ...endpointStatusJson(status),
      inFlight: counters.inFlight,
      requests: counters.requests,
      recent,
      bytes: { toEndpoint: counters.bytesOut, fromEndpoint: counters.bytesIn },
      ...ratesOf(track),
    };
  }
}

/** The rates between the oldest and the newest sample of a window. */
function ratesOf({ samples, sticky }: Track): EndpointRates {
  const first = samples[0];
  const last = samples.at(-1);
  if (first === undefined || last === undefined || last === first || last.at <= first.at) {
    return { requestRate: 0, errorRate: null, latencyMs: null, stickyShare: null };
  }
  const requests = last.requests - first.requests;
  const attempts = last.attempts - first.attempts;
  const durations = last.durations.map((n, i) => n - (first.durations[i] ?? 0));
  return {
    requestRate: round((requests * 1000) / (last.at - first.at), 100),
    errorRate: attempts > 0 ? round((last.errors - first.errors) / attempts, 10_000) : null,
    latencyMs: sum(durations) > 0 ? { p50: quantileMs(durations, 0.5), p99: quantileMs(durations, 0.99) } : null,
    stickyShare: sticky && requests > 0 ? round((last.sticky - first.sticky) / requests, 10_000) : null,
  };
}

/**
 * The `q` quantile (ms) of non-cumulative bucket counts over `durationBucketsSeconds`, interpolated linearly inside
 * its bucket; past the last bound it is that bound (the histogram cannot tell more).
 */
export function quantileMs(counts: readonly number[], q: number): number {
  const total = sum(counts);
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < counts.length; i++) {
    const count = counts[i]!;
    if (count > 0 && below + count >= rank) {
      const upper = durationBucketsSeconds[i];
      if (upper === undefined) return durationBucketsSeconds.at(-1)! * 1000;
      const lower = i === 0 ? 0 : durationBucketsSeconds[i - 1]!;
      return round((lower + ((upper - lower) * (rank - below)) / count) * 1000, 10);
    }
    below += count;
  }
  return 0;
}

const noCounts: readonly number[] = [];

function sum(values: readonly number[]): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}

function round(value: number, factor: number): number {
  return Math.round(value * factor) / factor;
}
