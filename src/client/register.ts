import { AdminClient, problemDetail, retryDelayMs, type AdminAnswer, type AdminTlsOptions } from './admin-client.js';

/** Options of `register`: which balancer, which service, which instance. */
export interface RegisterOptions {
  /** Base URL of the Switchyard admin API, such as `http://127.0.0.1:9901`. */
  readonly admin: string;
  /**
   * A registration token for this service (`admin.tokens.register`), or the admin token; none when the admin API
   * has no tokens.
   */
  readonly token?: string;
  /** For an admin API on `https://`: the CA of its certificate, and this instance's certificate under mTLS. */
  readonly tls?: AdminTlsOptions;
  readonly service: string;
  /** This instance's URL as the balancer should reach it (`http://10.0.0.5:3000`). */
  readonly url: string;
  /** Endpoint id; defaults to the URL's `host:port`. */
  readonly id?: string;
  readonly weight?: number;
  readonly metadata?: Readonly<Record<string, string>>;
  /** Lease length: seconds, or a duration such as `10s`, `500ms`, `1m` (default 10 s). Heartbeats go every third of it. */
  readonly ttl?: number | string;
  /** Called with problems the handle recovers from on its own (a missed heartbeat, a re-registration). */
  readonly onWarning?: (message: string) => void;
}

/** A live registration: heartbeats keep it until `close()` deregisters it. */
export interface RegistrationHandle {
  readonly id: string;
  /** Stops the heartbeats and deregisters (in-flight requests on the balancer finish). */
  close(): Promise<void>;
}

/** Parses `10s`, `500ms`, `2m`, `1h` or a number of seconds into milliseconds. */
export function parseDuration(value: number | string): number {
  if (typeof value === 'number') return value * 1000;
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (match === null) throw new TypeError(`invalid duration "${value}" (use 10s, 500ms, 2m or 1h)`);
  const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(match[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Number(match[1]) * scale;
}

/** Statuses worth trying again: the balancer (or its registry store) is busy or away for now. */
const retryable = (status: number): boolean => status === 408 || status === 429 || status >= 500;

class RegistrationError extends Error {
  constructor(
    message: string,
    readonly answer: AdminAnswer,
  ) {
    super(message);
  }
}

const refusal = (what: string, answer: AdminAnswer): string => {
  const detail = problemDetail(answer.json);
  return `${what}: HTTP ${answer.status}${detail === undefined ? '' : ` (${detail})`}`;
};

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Registers the calling instance with a Switchyard balancer and keeps its lease alive with heartbeats until
 * `close()`. Resolves once the first registration succeeded. While the balancer is unreachable or answers 503 (its
 * registry store is away: `registry_unavailable`) it keeps trying, honouring `Retry-After`, with exponential back-off
 * and jitter otherwise; a refusal that retrying cannot fix (bad token, unknown service, invalid URL) rejects. A
 * heartbeat that fails the same way is tried again after the same delays instead of waiting a whole interval, and a
 * lease the balancer no longer knows (404) is registered again.
 *
 * ```ts
 * const registration = await register({ admin: 'http://127.0.0.1:9901', service: 'api', url: 'http://127.0.0.1:3000' });
 * process.on('SIGTERM', () => void registration.close().then(() => process.exit(0)));
 * ```
 */
export async function register(options: RegisterOptions): Promise<RegistrationHandle> {
  const ttlMs = parseDuration(options.ttl ?? '10s');
  const ttlSeconds = Math.max(1, Math.round(ttlMs / 1000));
  const heartbeatMs = Math.max(250, Math.floor((ttlSeconds * 1000) / 3));
  const base = `${options.admin.replace(/\/$/, '')}/api/services/${encodeURIComponent(options.service)}/endpoints`;
  const client = new AdminClient(options.token, options.tls);
  const warn = options.onWarning ?? (() => undefined);
  const body = JSON.stringify({
    url: options.url,
    ttlSeconds,
    ...(options.id === undefined ? {} : { id: options.id }),
    ...(options.weight === undefined ? {} : { weight: options.weight }),
    ...(options.metadata === undefined ? {} : { metadata: options.metadata }),
  });
  let closed = false;

  const registerOnce = async (): Promise<string> => {
    const answer = await client.call('POST', base, body);
    if (answer.status === 200 || answer.status === 201) return (answer.json as { id: string }).id;
    throw new RegistrationError(refusal('registration refused', answer), answer);
  };
  /** Registers, trying again (without end) while the failure is one that time can fix. */
  const registerPatiently = async (): Promise<string> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await registerOnce();
      } catch (error) {
        const answer = error instanceof RegistrationError ? error.answer : undefined;
        if (answer !== undefined && !retryable(answer.status)) throw error;
        const delay = retryDelayMs(attempt, answer?.retryAfterMs);
        warn(`cannot register yet: ${(error as Error).message}; trying again in ${delay} ms`);
        await sleep(delay);
      }
    }
  };

  let id: string;
  try {
    id = await registerPatiently();
  } catch (error) {
    await client.close();
    throw error;
  }
  const endpointUrl = `${base}/${encodeURIComponent(id)}`;

  let failures = 0;
  /** One heartbeat; resolves with the delay until the next one. */
  const beat = async (): Promise<number> => {
    let answer: AdminAnswer | undefined;
    try {
      answer = await client.call('PUT', `${endpointUrl}/heartbeat`);
      if (answer.status === 404) {
        // The lease ran out (or the balancer lost it): register again.
        warn('lease unknown to the balancer: registering again');
        answer = undefined;
        await registerOnce();
        failures = 0;
        return heartbeatMs;
      }
      if (answer.status < 300) {
        failures = 0;
        return heartbeatMs;
      }
      if (!retryable(answer.status)) {
        warn(refusal('heartbeat refused', answer));
        return heartbeatMs;
      }
      throw new RegistrationError(refusal('heartbeat failed', answer), answer);
    } catch (error) {
      const failed = error instanceof RegistrationError ? error.answer : answer;
      if (failed !== undefined && !retryable(failed.status)) {
        warn((error as Error).message);
        return heartbeatMs;
      }
      failures++;
      const delay = retryDelayMs(failures, failed?.retryAfterMs, heartbeatMs);
      warn(`${(error as Error).message}; trying again in ${delay} ms`);
      return delay;
    }
  };
  let timer: NodeJS.Timeout | undefined;
  let beating: Promise<void> | undefined;
  const schedule = (delayMs: number): void => {
    if (closed) return;
    timer = setTimeout(() => {
      beating = beat().then(schedule);
    }, delayMs);
  };
  schedule(heartbeatMs);

  return {
    id,
    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      await beating;
      await deregister(client, endpointUrl, warn);
      await client.close();
    },
  };
}

/** Deregisters, trying again for up to 5 s while the balancer answers 503; the lease ends on its own otherwise. */
async function deregister(client: AdminClient, url: string, warn: (message: string) => void): Promise<void> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    let problem: string;
    let answer: AdminAnswer | undefined;
    try {
      answer = await client.call('DELETE', url);
      if (answer.status < 300 || answer.status === 404) return;
      problem = refusal('deregistration refused', answer);
      if (!retryable(answer.status)) {
        warn(`${problem}; the lease will end on its own`);
        return;
      }
    } catch (error) {
      problem = `deregistration failed: ${(error as Error).message}`;
    }
    const delay = retryDelayMs(attempt, answer?.retryAfterMs, 1_000);
    if (Date.now() + delay - started > 5_000) {
      warn(`${problem}; the lease will end on its own`);
      return;
    }
    await sleep(delay);
  }
}
