import type { HealthCheckConfig } from '../../config/service-schema.js';
import type { Logger } from '../../core/log.js';
import { createProbe } from './create-probe.js';
import { describeError, type Probe, type ProbeResult, type ProbeTarget } from './probe.js';

/** Health from active checks: `unknown` until the first pass or the first `fall` failures, then `up` or `down`. */
export type CheckedHealth = 'unknown' | 'up' | 'down';

/** One endpoint's active-check state, replaced (never mutated) after every check. */
export interface HealthStatus {
  readonly health: CheckedHealth;
  /** The latest finished check; undefined before the first. `at` is epoch ms (from `now`) when it started. */
  readonly lastCheck?: {
    readonly at: number;
    readonly ok: boolean;
    readonly detail: string;
    readonly durationMs: number;
  };
  /** Passing checks in a row (0 after a failure). */
  readonly passes: number;
  /** Failing checks in a row (0 after a pass). */
  readonly failures: number;
}

/** An endpoint to check, with its service's health check configuration. */
export interface HealthTarget {
  readonly service: string;
  readonly endpoint: ProbeTarget;
  readonly check: HealthCheckConfig;
}

export interface HealthMonitorOptions {
  /** Called on health flips only (unknown→up, unknown→down, up→down, down→up), never per check. */
  onChange(service: string, endpointId: string, status: HealthStatus): void;
  /** Flips are logged at info. */
  log: Logger;
  /** Epoch ms; defaults to `Date.now`. */
  now?: () => number;
  /** Uniform in [0, 1), spreads each interval by ± `jitterPercent`; defaults to `Math.random`. */
  random?: () => number;
  /** The probe for a check configuration; defaults to `createProbe`. */
  probeFor?: (check: HealthCheckConfig) => Probe;
}

interface Checked {
  target: HealthTarget;
  /** Check configuration and URL: a change restarts the endpoint from `unknown`. */
  readonly fingerprint: string;
  readonly probe: Probe;
  status: HealthStatus;
  timer: NodeJS.Timeout | undefined;
  inFlight: AbortController | undefined;
  stopped: boolean;
}

const unknown: HealthStatus = { health: 'unknown', passes: 0, failures: 0 };

/** How many checks of one endpoint passed and failed since it was first checked (for metrics). */
export interface CheckCounts {
  readonly service: string;
  readonly endpoint: string;
  passed: number;
  failed: number;
}

/**
 * Runs the active health checks of every target and keeps their rise/fall state.
 *
 * A new endpoint is `unknown`. Its first passing check makes it `up` at once (a booting instance takes traffic as soon
 * as it answers); `fall` failures in a row before any pass make it `down`. After that: `up` → `down` after `fall`
 * failures in a row, `down` → `up` after `rise` passes in a row. Each check is aborted after `timeoutMs` and counts
 * as a failure (`timeout after N ms`); the next one starts `intervalMs` ± `jitterPercent` % after the previous one
 * finished, so checks of one endpoint never overlap. Timers are unref'd: the monitor never keeps the process alive.
 * Nothing thrown by a probe or by `onChange` escapes.
 */
export class HealthMonitor {
  readonly #options: HealthMonitorOptions;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #probeFor: (check: HealthCheckConfig) => Probe;
  readonly #checked = new Map<string, Checked>();
  /** Kept apart from `#checked` so that a check restarted by a config change keeps counting from where it was. */
  readonly #counts = new Map<string, CheckCounts>();
  #closed = false;

  constructor(options: HealthMonitorOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#probeFor = options.probeFor ?? createProbe;
  }

  /**
   * Reconciles the set of checked endpoints: new targets start checking at once (first check immediately), removed
   * ones stop, a target whose check config or URL changed restarts from unknown. Unchanged targets keep their state
   * and schedule. A later duplicate of a service and endpoint id wins. Does nothing after `close()`.
   */
  sync(targets: readonly HealthTarget[]): void {
    if (this.#closed) return;
    const wanted = new Map<string, HealthTarget>();
    for (const target of targets) wanted.set(keyOf(target.service, target.endpoint.id), target);
    for (const [key, checked] of this.#checked) {
      const target = wanted.get(key);
      if (target !== undefined && fingerprintOf(target) === checked.fingerprint) {
        checked.target = target;
        continue;
      }
      this.#stop(checked);
      this.#checked.delete(key);
      if (target === undefined) this.#counts.delete(key);
    }
    for (const [key, target] of wanted) {
      if (this.#checked.has(key)) continue;
      const checked = this.#start(target);
      this.#checked.set(key, checked);
    }
  }

  /** The state of one endpoint, or undefined when it is not checked. */
  status(service: string, endpointId: string): HealthStatus | undefined {
    return this.#checked.get(keyOf(service, endpointId))?.status;
  }

  /** A copy of the pass and fail counts of every checked endpoint. */
  checkCounts(): CheckCounts[] {
    return [...this.#counts.values()].map((counts) => ({ ...counts }));
  }

  /** Stops every timer and aborts the checks in flight; no `onChange` follows. */
  close(): void {
    this.#closed = true;
    for (const checked of this.#checked.values()) this.#stop(checked);
    this.#checked.clear();
  }

  #start(target: HealthTarget): Checked {
    const checked: Checked = {
      target,
      fingerprint: fingerprintOf(target),
      probe: this.#createProbe(target.check),
      status: unknown,
      timer: undefined,
      inFlight: undefined,
      stopped: false,
    };
    this.#launch(checked);
    return checked;
  }

  #stop(checked: Checked): void {
    checked.stopped = true;
    clearTimeout(checked.timer);
    checked.timer = undefined;
    checked.inFlight?.abort(new Error('health check stopped'));
  }

  #createProbe(check: HealthCheckConfig): Probe {
    try {
      return this.#probeFor(check);
    } catch (error) {
      // A probe that cannot be built fails every check with the reason, visible in `lastCheck.detail`.
      const detail = `invalid health check: ${describeError(error)}`;
      return { check: () => Promise.resolve({ ok: false, detail }) };
    }
  }

  #launch(checked: Checked): void {
    this.#run(checked).catch((error: unknown) => {
      const { service, endpoint } = checked.target;
      this.#options.log.error({ service, endpoint: endpoint.id, err: error }, 'health check crashed');
    });
  }

  async #run(checked: Checked): Promise<void> {
    checked.timer = undefined;
    if (checked.stopped) return;
    const { check } = checked.target;
    const controller = new AbortController();
    checked.inFlight = controller;
    const timeout = setTimeout(
      () => controller.abort(new Error(`timeout after ${check.timeoutMs} ms`)),
      check.timeoutMs,
    );
    timeout.unref();
    const at = this.#now();
    const result = await this.#probe(checked, controller.signal);
    clearTimeout(timeout);
    checked.inFlight = undefined;
    if (checked.stopped) return;
    this.#record(checked, result, at);
  }

  /** One check that always resolves: a throw, a rejection or a probe ignoring its signal is a failure. */
  async #probe(checked: Checked, signal: AbortSignal): Promise<ProbeResult> {
    const aborted = new Promise<ProbeResult>((resolve) => {
      const onAbort = (): void => resolve({ ok: false, detail: describeError(signal.reason) });
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      const result = await Promise.race([checked.probe.check(checked.target.endpoint, signal), aborted]);
      // The signal's verdict wins over a late pass that raced with the timeout.
      if (signal.aborted) return { ok: false, detail: describeError(signal.reason) };
      return { ok: result.ok === true, detail: String(result.detail) };
    } catch (error) {
      return { ok: false, detail: describeError(error) };
    }
  }

  #record(checked: Checked, result: ProbeResult, at: number): void {
    const previous = checked.status;
    const passes = result.ok ? previous.passes + 1 : 0;
    const failures = result.ok ? 0 : previous.failures + 1;
    const { rise, fall } = checked.target.check;
    const health = nextHealth(previous.health, passes, failures, rise, fall);
    const lastCheck = { at, ok: result.ok, detail: result.detail, durationMs: Math.max(0, this.#now() - at) };
    checked.status = { health, lastCheck, passes, failures };
    this.#count(checked.target, result.ok);
    // Scheduled before anyone hears of a flip, so an `onChange` that calls `sync` or `close` sees a settled state.
    this.#schedule(checked);
    if (health !== previous.health) this.#announce(checked, previous.health, result.detail);
  }

  #count(target: HealthTarget, ok: boolean): void {
    const key = keyOf(target.service, target.endpoint.id);
    let counts = this.#counts.get(key);
    if (counts === undefined) {
      counts = { service: target.service, endpoint: target.endpoint.id, passed: 0, failed: 0 };
      this.#counts.set(key, counts);
    }
    if (ok) counts.passed++;
    else counts.failed++;
  }

  #schedule(checked: Checked): void {
    const { intervalMs, jitterPercent } = checked.target.check;
    const spread = (this.#random() * 2 - 1) * (jitterPercent / 100);
    const delayMs = Math.max(1, Math.round(intervalMs * (1 + spread)));
    checked.timer = setTimeout(() => this.#launch(checked), delayMs);
    checked.timer.unref();
  }

  #announce(checked: Checked, from: CheckedHealth, detail: string): void {
    const { service, endpoint } = checked.target;
    const to = checked.status.health;
    this.#options.log.info({ service, endpoint: endpoint.id, from, to, detail }, 'health changed');
    try {
      this.#options.onChange(service, endpoint.id, checked.status);
    } catch (error) {
      this.#options.log.error({ service, endpoint: endpoint.id, err: error }, 'health change listener threw');
    }
  }
}

/** Rise/fall hysteresis, except that an `unknown` endpoint is `up` on its first pass. */
function nextHealth(
  health: CheckedHealth,
  passes: number,
  failures: number,
  rise: number,
  fall: number,
): CheckedHealth {
  switch (health) {
    case 'unknown':
      return passes > 0 ? 'up' : failures >= fall ? 'down' : 'unknown';
    case 'up':
      return failures >= fall ? 'down' : 'up';
    case 'down':
      return passes >= rise ? 'up' : 'down';
  }
}

function keyOf(service: string, endpointId: string): string {
  return `${service}\u0000${endpointId}`;
}

function fingerprintOf(target: HealthTarget): string {
  return `${target.endpoint.url}\u0000${stableJson(target.check)}`;
}

/** JSON with object keys sorted, so two equal configurations built in different key orders compare equal. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
