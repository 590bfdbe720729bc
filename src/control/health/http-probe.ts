import type { ClientRequest, IncomingMessage, RequestOptions } from 'node:http';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { HealthCheckConfig } from '../../config/service-schema.js';
import {
  abortDetail,
  describeError,
  socketAddressOf,
  type Probe,
  type ProbeResult,
  type ProbeTarget,
} from './probe.js';

/** The `http` part of a service's health check. */
export type HttpCheckConfig = NonNullable<HealthCheckConfig['http']>;

/** How much of the body `bodyContains` searches; the rest is never read. */
export const maxBodyBytes = 65_536;

/**
 * An HTTP(S) health check: one request to `endpoint.url + path` on a fresh connection that is closed afterwards
 * (`agent: false`, so it shares no pool with the data plane, like HAProxy's checks). Passes when the status is in
 * `expectStatus` and, when `bodyContains` is set, the first 64 KiB of the body contain it (compared as UTF-8 bytes).
 * `Host` is the configured `host`, or the endpoint's `host[:port]` (the port left out when it is the scheme's
 * default, RFC 9110 §7.2). HTTPS verifies the certificate against the URL's host name, as the data plane does.
 */
export class HttpProbe implements Probe {
  readonly #config: HttpCheckConfig;
  readonly #lowStatus: number;
  readonly #highStatus: number;
  readonly #needle: Buffer | undefined;

  constructor(config: HttpCheckConfig) {
    const match = /^(\d{3})(?:-(\d{3}))?$/.exec(config.expectStatus);
    if (match === null) throw new RangeError(`expectStatus "${config.expectStatus}" is not a status or a range`);
    this.#config = config;
    this.#lowStatus = Number(match[1]);
    this.#highStatus = Number(match[2] ?? match[1]);
    this.#needle = config.bodyContains === undefined ? undefined : Buffer.from(config.bodyContains);
  }

  check(endpoint: ProbeTarget, signal: AbortSignal): Promise<ProbeResult> {
    if (signal.aborted) return Promise.resolve({ ok: false, detail: abortDetail(signal) });
    if (!URL.canParse(endpoint.url)) return Promise.resolve({ ok: false, detail: `invalid URL ${endpoint.url}` });
    const url = new URL(endpoint.url);
    const { host, port } = socketAddressOf(url);
    const options: RequestOptions = {
      host,
      port,
      method: this.#config.method,
      path: this.#config.path,
      headers: { host: this.#config.host ?? url.host, 'user-agent': 'switchyard-health-check' },
      agent: false,
    };
    return new Promise<ProbeResult>((resolve) => {
      let response: IncomingMessage | undefined;
      let settled = false;
      const settle = (result: ProbeResult): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        // Closing both ends releases the socket whether or not the body was read (no keep-alive to preserve).
        response?.destroy();
        req.destroy();
        resolve(result);
      };
      const onAbort = (): void => settle({ ok: false, detail: abortDetail(signal) });
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const req: ClientRequest = send(options, (res) => {
        response = res;
        res.on('error', (error) => settle({ ok: false, detail: describeError(error) }));
        this.#judge(res, settle);
      });
      req.on('error', (error) => settle({ ok: false, detail: describeError(error) }));
      signal.addEventListener('abort', onAbort, { once: true });
      req.end();
    });
  }

  #judge(res: IncomingMessage, settle: (result: ProbeResult) => void): void {
    const status = res.statusCode ?? 0;
    const statusDetail = `HTTP ${status}`;
    if (status < this.#lowStatus || status > this.#highStatus) return settle({ ok: false, detail: statusDetail });
    const needle = this.#needle;
    if (needle === undefined) return settle({ ok: true, detail: statusDetail });
    const lacks = { ok: false, detail: `body lacks ${JSON.stringify(this.#config.bodyContains)}` };
    let body = Buffer.alloc(0);
    res.on('data', (chunk: Buffer) => {
      body = Buffer.concat([body, chunk]).subarray(0, maxBodyBytes);
      // Settling early frees the socket without waiting for a slow or endless body.
      if (body.includes(needle)) settle({ ok: true, detail: statusDetail });
      else if (body.length >= maxBodyBytes) settle(lacks);
    });
    res.on('end', () => settle(lacks));
    // A body cut short (the origin closed mid-body) ends with 'close' and no 'end'.
    res.on('close', () => settle(lacks));
  }
}
