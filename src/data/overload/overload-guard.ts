import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import type { OverloadConfig } from '../../config/overload-schema.js';
import type { Logger } from '../../core/log.js';
import type { RouteSnapshot } from '../../core/snapshot.js';
import type { OverloadReport } from '../../core/traffic.js';
import { RateLimiter } from './rate-limiter.js';

/** Requests and connections turned away, by reason (for metrics and the admin API). */
export interface OverloadCounts {
  /** Connections beyond a listener's or the process's `maxConnections` (503 on HTTP, reset on TLS and L4). */
  connections: number;
  /** Requests answered 503 while the event loop lagged. */
  shed: number;
  /** Requests refused because an endpoint's queue was full, or that waited `queueMs` in it. */
  queueFull: number;
  queueTimeout: number;
  /** Requests refused with 429 by a route's rate limit. */
  rateLimited: number;
}

/** The histogram's timer period (ms): it records each interval between its ticks, so an idle loop reads about this. */
const sampleResolutionMs = 10;

/**
 * The data plane's overload state, one per process and kept across snapshots (docs/operations.md "Overload
 * protection"): the client connections open on every listener against `overload.maxConnections`, the `Retry-After`
 * of overload answers, the routes' rate limiters, and event-loop-lag shedding. Listeners and the proxy read plain
 * fields on the hot path (`shedding`, `open`); everything else happens in `configure` or on the monitor's timer.
 *
 * Shedding: `monitorEventLoopDelay` samples the loop every 10 ms; every `windowMs` the mean delay of the window (less
 * the 10 ms period) is the lag (or, when the loop was blocked the whole window and took no sample, how late the
 * window's own timer fired). Shedding starts when the lag reaches `thresholdMs` in two windows in a row (one long
 * block, such as a big reload or a GC pause, is not overload) and stops after a window below `recoverMs` (half the
 * threshold by default).
 */
export class OverloadGuard {
  /** Client connections admitted and open now, on every HTTP, HTTPS and TCP listener. */
  open = 0;
  maxConnections = autoMaxConnections();
  /** True while the event loop lags: new requests get 503 before any routing or upstream work. */
  shedding = false;
  /** The lag measured over the last window (ms). */
  lagMs = 0;
  /** `['retry-after', '<seconds>']` for 503 overload answers (empty with `retryAfterSeconds: 0`). */
  retryAfter: readonly string[] = ['retry-after', '1'];
  readonly counts: OverloadCounts = { connections: 0, shed: 0, queueFull: 0, queueTimeout: 0, rateLimited: 0 };
  readonly #log: Logger;
  #limiters = new Map<string, RateLimiter>();
  #histogram: IntervalHistogram | undefined;
  #timer: NodeJS.Timeout | undefined;
  #windowMs = 0;
  #thresholdMs = Infinity;
  #recoverMs = Infinity;
  #lastTick = 0;
  /** Windows in a row whose lag reached the threshold. */
  #lagging = 0;

  constructor(log: Logger) {
    this.#log = log.child({ component: 'overload' });
  }

  /** A copy of the counts and the lag, for metrics. */
  report(): OverloadReport {
    return { ...this.counts, lagSeconds: this.lagMs / 1000, shedding: this.shedding };
  }

  /** Takes a snapshot's settings (undefined: the defaults) and its routes' rate limits (unchanged ones keep state). */
  configure(config: OverloadConfig | undefined, routes: readonly RouteSnapshot[]): void {
    this.maxConnections =
      config === undefined || config.maxConnections === 'auto' ? autoMaxConnections() : config.maxConnections;
    const seconds = config?.retryAfterSeconds ?? 1;
    this.retryAfter = seconds === 0 ? [] : ['retry-after', String(seconds)];
    const limiters = new Map<string, RateLimiter>();
    for (const route of routes) {
      if (route.rateLimit === undefined || limiters.has(route.name)) continue;
      const previous = this.#limiters.get(route.name);
      const signature = JSON.stringify(route.rateLimit);
      limiters.set(route.name, previous?.signature === signature ? previous : new RateLimiter(route.rateLimit));
    }
    this.#limiters = limiters;
    const lag = config?.eventLoopLag ?? { enabled: true, thresholdMs: 200, windowMs: 500, recoverMs: undefined };
    if (!lag.enabled) {
      this.#stopMonitor();
      return;
    }
    this.#thresholdMs = lag.thresholdMs;
    this.#recoverMs = lag.recoverMs ?? lag.thresholdMs / 2;
    if (this.#timer === undefined || this.#windowMs !== lag.windowMs) this.#startMonitor(lag.windowMs);
  }

  /** The rate limiter of a route (by name), when it has one. */
  rateLimiter(route: string): RateLimiter | undefined {
    return this.#limiters.get(route);
  }

  /** Takes a place for a new connection in the process total; false when it is full (the caller refuses it). */
  openConnection(): boolean {
    if (this.open >= this.maxConnections) return false;
    this.open++;
    return true;
  }

  /** An admitted connection closed. */
  closeConnection(): void {
    this.open--;
  }

  /** Stops the monitor (the data plane closes). */
  stop(): void {
    this.#stopMonitor();
  }

  #startMonitor(windowMs: number): void {
    this.#stopMonitor();
    this.#histogram = monitorEventLoopDelay({ resolution: sampleResolutionMs });
    this.#histogram.enable();
    this.#windowMs = windowMs;
    this.#lastTick = performance.now();
    this.#timer = setInterval(this.#sample, windowMs);
    this.#timer.unref();
  }

  #stopMonitor(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#histogram?.disable();
    this.#histogram = undefined;
    if (this.shedding) this.#log.info({ lagMs: this.lagMs }, 'event-loop-lag shedding off');
    this.shedding = false;
    this.lagMs = 0;
  }

  readonly #sample = (): void => {
    const histogram = this.#histogram;
    if (histogram === undefined) return;
    const now = performance.now();
    // Without a sample (the histogram drops the first interval after a reset), how late this timer fired says how
    // long the loop was blocked.
    const late = now - this.#lastTick - this.#windowMs;
    this.#lastTick = now;
    const lag = Math.max(0, histogram.count > 0 ? histogram.mean / 1e6 - sampleResolutionMs : late);
    histogram.reset();
    this.lagMs = lag;
    this.#lagging = lag >= this.#thresholdMs ? this.#lagging + 1 : 0;
    if (!this.shedding && this.#lagging >= 2) {
      this.shedding = true;
      this.#log.warn({ lagMs: Math.round(lag) }, 'event loop lagging: new requests are answered 503 (shedding on)');
    } else if (this.shedding && lag < this.#recoverMs) {
      this.shedding = false;
      this.#log.info({ lagMs: Math.round(lag) }, 'event loop recovered: shedding off');
    }
  };
}

let autoMax: number | undefined;

/**
 * `maxConnections: auto`: half of what the process's open-file limit leaves after a reserve (listening sockets, the
 * admin API, health checks, files), since a proxied connection usually holds an upstream connection too; 100 000
 * where the limit cannot be read (not Linux).
 */
export function autoMaxConnections(): number {
  autoMax ??= fromOpenFileLimit(openFileLimit());
  return autoMax;
}

function fromOpenFileLimit(limit: number | undefined): number {
  if (limit === undefined) return 100_000;
  const reserve = Math.min(256, Math.floor(limit / 8));
  return Math.max(16, Math.floor((limit - reserve) / 2));
}

/** The soft RLIMIT_NOFILE (Node raises it to the hard limit at start), from /proc/self/limits. */
function openFileLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'latin1')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    if (soft === undefined || soft === 'unlimited') return undefined;
    const n = Number(soft);
    return Number.isFinite(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}
