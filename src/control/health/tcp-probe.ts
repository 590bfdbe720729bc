import { connect } from 'node:net';
import {
  abortDetail,
  describeError,
  socketAddressOf,
  type Probe,
  type ProbeResult,
  type ProbeTarget,
} from './probe.js';

/**
 * A TCP connect check: passes when a connection to the endpoint's host and port opens, and closes it at once without
 * sending a byte. The port is the URL's, or the scheme's default (80, 443).
 */
export class TcpProbe implements Probe {
  check(endpoint: ProbeTarget, signal: AbortSignal): Promise<ProbeResult> {
    if (signal.aborted) return Promise.resolve({ ok: false, detail: abortDetail(signal) });
    if (!URL.canParse(endpoint.url)) return Promise.resolve({ ok: false, detail: `invalid URL ${endpoint.url}` });
    const { host, port } = socketAddressOf(new URL(endpoint.url));
    return new Promise<ProbeResult>((resolve) => {
      const socket = connect({ host, port });
      const settle = (result: ProbeResult): void => {
        signal.removeEventListener('abort', onAbort);
        socket.destroy();
        resolve(result);
      };
      const onAbort = (): void => settle({ ok: false, detail: abortDetail(signal) });
      socket.once('connect', () => settle({ ok: true, detail: 'TCP connected' }));
      // Stays attached after settling: a late error on a destroyed socket must not go unhandled.
      socket.on('error', (error) => settle({ ok: false, detail: describeError(error) }));
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
