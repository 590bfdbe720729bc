import { Agent, request, type Dispatcher } from 'undici';

/**
 * TLS options for an admin API on `https://` (`admin.tls` on the balancer): `ca` is the CA that signed the
 * balancer's certificate (without it, the system's CAs); `cert` and `key` are this client's certificate when the
 * admin API requires one (`admin.tls.clientCa`, mTLS). PEM text or buffers.
 */
export interface AdminTlsOptions {
  readonly ca?: string | Buffer;
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
}

/** One answer of the admin API: its status, its body parsed when it is JSON, and `Retry-After` in ms when sent. */
export interface AdminAnswer {
  readonly status: number;
  readonly json: unknown;
  readonly retryAfterMs?: number;
}

/** The longest `Retry-After` honoured: a larger one (or a date far ahead) waits this long, then tries again. */
const maxRetryAfterMs = 60_000;

/**
 * A small client of the admin API: a bearer token, optional TLS, JSON bodies, 5 s timeouts. `close()` releases the
 * connections it keeps alive.
 */
export class AdminClient {
  readonly #headers: Record<string, string>;
  readonly #agent: Agent;

  constructor(token: string | undefined, tls: AdminTlsOptions = {}) {
    this.#headers = { 'content-type': 'application/json' };
    if (token !== undefined && token !== '') this.#headers['authorization'] = `Bearer ${token}`;
    const connect = {
      ...(tls.ca === undefined ? {} : { ca: tls.ca }),
      ...(tls.cert === undefined ? {} : { cert: tls.cert }),
      ...(tls.key === undefined ? {} : { key: tls.key }),
    };
    this.#agent = new Agent({ connect, keepAliveTimeout: 4_000 });
  }

  /** The dispatcher, for callers that use undici directly. */
  get dispatcher(): Dispatcher {
    return this.#agent;
  }

  /** Sends one request; rejects only when no answer came (refused connection, TLS failure, timeout). */
  async call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: string): Promise<AdminAnswer> {
    const response = await request(url, {
      method,
      headers: this.#headers,
      body,
      dispatcher: this.#agent,
      headersTimeout: 5_000,
      bodyTimeout: 5_000,
    });
    const text = await response.body.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    const retryAfterMs = parseRetryAfter(response.headers['retry-after']);
    return { status: response.statusCode, json, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
  }

  close(): Promise<void> {
    return this.#agent.close();
  }
}

/**
 * `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date, in ms from now (at most 60 s); undefined when
 * absent or unreadable.
 */
export function parseRetryAfter(value: string | string[] | undefined, now: number = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text.trim() === '') return undefined;
  const ms = /^\s*\d+\s*$/.test(text) ? Number(text) * 1000 : Date.parse(text) - now;
  if (Number.isNaN(ms)) return undefined;
  return Math.min(maxRetryAfterMs, Math.max(0, ms));
}

/**
 * How long to wait before try `attempt` (1, 2, …) after a failure: the server's `Retry-After` when it sent one,
 * otherwise exponential back-off from 200 ms to `capMs` with jitter (each wait is 50–100 % of the step), so that a
 * fleet of instances that lost the balancer at the same moment does not come back in lockstep.
 */
export function retryDelayMs(
  attempt: number,
  retryAfterMs: number | undefined,
  capMs = 5_000,
  random: () => number = Math.random,
): number {
  // A `Retry-After: 0` is taken as 100 ms, so that a server that keeps saying 0 is not called in a tight loop.
  if (retryAfterMs !== undefined) return Math.max(100, retryAfterMs);
  const step = Math.min(capMs, 200 * 2 ** Math.max(0, attempt - 1));
  return Math.round(step * (0.5 + random() / 2));
}

/** The problem document's detail (or title), for a message. */
export function problemDetail(json: unknown): string | undefined {
  const problem = json as { detail?: unknown; title?: unknown } | undefined;
  const text = problem?.detail ?? problem?.title;
  return typeof text === 'string' ? text : undefined;
}
