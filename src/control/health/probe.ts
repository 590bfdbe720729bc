/** What a probe needs of an endpoint; the core `Endpoint` fits. */
export interface ProbeTarget {
  readonly id: string;
  /** Origin of the instance, `http(s)://host:port` (no path). */
  readonly url: string;
}

/**
 * The outcome of one check. `detail` is short and human: `HTTP 200`, `HTTP 503`, `connect ECONNREFUSED`,
 * `timeout after 1000 ms`, `body lacks "ok"`.
 */
export interface ProbeResult {
  readonly ok: boolean;
  readonly detail: string;
}

/**
 * One protocol's active health check. Timers, thresholds and scheduling live in `HealthMonitor`.
 *
 * A check always resolves: with `ok: true` on pass and `ok: false` on fail (a failing instance is an expected outcome,
 * not an exception, and a passing check has a detail worth showing too). It never rejects for a failed check; the
 * monitor nonetheless counts a rejection or a synchronous throw as a failure.
 *
 * When `signal` aborts (the check's timeout, or the monitor stopping), the probe releases its socket at once and
 * resolves with `ok: false` and the abort reason's message as the detail.
 */
export interface Probe {
  check(endpoint: ProbeTarget, signal: AbortSignal): Promise<ProbeResult>;
}

/** The detail of a failed check from an error: `connect ECONNREFUSED`, `getaddrinfo ENOTFOUND`, or its message. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const { code, syscall } = error as NodeJS.ErrnoException;
  if (code !== undefined && syscall !== undefined) return `${syscall} ${code}`;
  return error.message || code || error.name;
}

/** The detail of an aborted check: the reason's message (the monitor aborts with `timeout after N ms`). */
export function abortDetail(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.message !== '') return reason.message;
  return 'aborted';
}

/** Host and port to connect to from an endpoint URL; IPv6 brackets are removed and the scheme's port filled in. */
export function socketAddressOf(url: URL): { host: string; port: number } {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  return { host, port };
}
