import { request } from 'undici';

/** Options of `register`: which balancer, which service, which instance. */
export interface RegisterOptions {
  /** Base URL of the Switchyard admin API, such as `http://127.0.0.1:9901`. */
  readonly admin: string;
  /** The admin token, when the admin API has one. */
  readonly token?: string;
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

class RegistrationError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/**
 * Registers the calling instance with a Switchyard balancer and keeps its lease alive with heartbeats until
 * `close()`. Resolves once the first registration succeeded; while the balancer is unreachable it keeps trying
 * (with backoff), but a refusal that retrying cannot fix (bad token, unknown service, invalid URL) rejects.
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
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.token !== undefined && options.token !== '') headers['authorization'] = `Bearer ${options.token}`;
  const warn = options.onWarning ?? (() => undefined);
  const body = JSON.stringify({
    url: options.url,
    ttlSeconds,
    ...(options.id === undefined ? {} : { id: options.id }),
    ...(options.weight === undefined ? {} : { weight: options.weight }),
    ...(options.metadata === undefined ? {} : { metadata: options.metadata }),
  });

  const call = async (
    method: 'POST' | 'PUT' | 'DELETE',
    url: string,
    payload?: string,
  ): Promise<{ status: number; json: unknown }> => {
    const response = await request(url, { method, headers, body: payload, headersTimeout: 5_000, bodyTimeout: 5_000 });
    const text = await response.body.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.statusCode, json };
  };

  const registerOnce = async (): Promise<string> => {
    const { status, json } = await call('POST', base, body);
    if (status === 200 || status === 201) return (json as { id: string }).id;
    const detail =
      (json as { detail?: string; title?: string } | undefined)?.detail ??
      (json as { title?: string } | undefined)?.title;
    throw new RegistrationError(
      `registration refused: HTTP ${status}${detail === undefined ? '' : ` (${detail})`}`,
      status,
    );
  };

  let closed = false;
  let id: string | undefined;
  for (let attempt = 0; id === undefined; attempt++) {
    try {
      id = await registerOnce();
    } catch (error) {
      if (error instanceof RegistrationError && error.status < 500) throw error;
      warn(`cannot register yet: ${(error as Error).message}`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 200 * 2 ** attempt)));
    }
  }
  const endpointUrl = `${base}/${encodeURIComponent(id)}`;

  let timer: NodeJS.Timeout | undefined;
  let beating: Promise<void> | undefined;
  const beat = async (): Promise<void> => {
    try {
      const { status } = await call('PUT', `${endpointUrl}/heartbeat`);
      // The lease ran out (or the balancer lost it): register again.
      if (status === 404) {
        warn('lease unknown to the balancer: registering again');
        await registerOnce();
      } else if (status >= 300) warn(`heartbeat answered HTTP ${status}`);
    } catch (error) {
      warn(`heartbeat failed: ${(error as Error).message}`);
    }
  };
  const schedule = (): void => {
    if (closed) return;
    timer = setTimeout(() => {
      beating = beat().finally(schedule);
    }, heartbeatMs);
  };
  schedule();

  return {
    id,
    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      await beating;
      try {
        await call('DELETE', endpointUrl);
      } catch (error) {
        warn(`deregistration failed: ${(error as Error).message}`);
      }
    },
  };
}
