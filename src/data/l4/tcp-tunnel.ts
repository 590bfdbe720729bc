import { connect, type Socket } from 'node:net';
import { proxyErrors } from '../../core/errors.js';
import { accessFlags } from '../../core/access-entry.js';
import type { ConnectionAccessRecord } from '../downstream/access-records.js';
import type { ListenerTraffic } from '../../core/traffic.js';
import { encodeProxyHeader, type ProxyAddress } from './proxy-protocol.js';
import type { ServiceRuntime } from '../runtime.js';
import { anyRequest, attemptPolicies } from '../upstream/attempt-policy.js';
import { UpstreamTries, type UpstreamAttempt } from '../upstream/attempt.js';

/** Where a connection came from and what it reached: the real client (PROXY protocol applied) and our address. */
export interface ConnectionAddresses {
  readonly client: ProxyAddress;
  readonly local: ProxyAddress;
}

const ignoreError = (): void => undefined;

/**
 * One L4 connection, spliced whole to one endpoint (docs/l4.md): the service's algorithm picks it (consistent-hash
 * keys on the client IP), a connect failure or timeout tries another endpoint before the client is closed, and an
 * endpoint at `maxConnectionsPerEndpoint` is passed over. Once connected, bytes flow both ways with back-pressure
 * (a slow reader pauses the other side instead of filling memory), a half-close in one direction is passed on while
 * the other keeps flowing, a reset is passed on as a reset, and `tunnelIdleMs` without a byte closes both sides.
 */
export class TcpTunnel {
  readonly #client: Socket;
  readonly #service: ServiceRuntime;
  readonly #addresses: ConnectionAddresses;
  readonly #traffic: ListenerTraffic;
  /** Bytes the client sent before the endpoint was chosen (a ClientHello): they go first, untouched. */
  #pending: Buffer;
  #upstream: Socket | undefined;
  readonly #tries: UpstreamTries;
  /** The try running now: its lease is released when the connection (or the try) ends. */
  #attempt: UpstreamAttempt | undefined;
  #closed = false;
  /** What the access log learns of this connection; undefined when it is off. */
  readonly #access: ConnectionAccessRecord | undefined;

  constructor(
    client: Socket,
    service: ServiceRuntime,
    addresses: ConnectionAddresses,
    traffic: ListenerTraffic,
    pending: Buffer,
    access?: ConnectionAccessRecord,
  ) {
    this.#client = client;
    this.#service = service;
    this.#addresses = addresses;
    this.#traffic = traffic;
    this.#pending = pending;
    this.#access = access;
    this.#tries = new UpstreamTries(service, attemptPolicies.tcp, { hashKey: () => addresses.client.address });
  }

  start(): void {
    const client = this.#client;
    // Until the endpoint answers, what the client sends waits in the socket (and TCP's window), not here.
    client.pause();
    client.on('error', this.#onClientError);
    client.once('close', this.#onClientClose);
    this.#connect();
  }

  #connect(): void {
    const service = this.#service;
    // Endpoints at `maxConnectionsPerEndpoint` are passed over: not their failure, just not this connection's.
    const attempt = this.#tries.connect(true);
    if (attempt === undefined) {
      // Nobody left: no endpoint was eligible (or free), or every one tried failed to connect.
      const failed = this.#tries.tries > 0;
      this.#access?.fail(failed ? proxyErrors.connectFailure.flag : this.#tries.nobodyProblem().flag);
      this.#close();
      return;
    }
    this.#attempt = attempt;
    if (this.#access !== undefined) {
      this.#access.endpoint = attempt.endpoint.endpoint.id;
      if (attempt.retry) this.#access.retries++;
    }
    const { host, port } = hostAndPort(attempt.endpoint.endpoint.url);
    const upstream = connect({ host, port, allowHalfOpen: true, noDelay: true });
    this.#upstream = upstream;
    upstream.setTimeout(service.snapshot.timeouts.connectMs);
    upstream.once('timeout', this.#onConnectFailure);
    upstream.once('error', this.#onConnectFailure);
    upstream.once('connect', this.#onConnected);
  }

  readonly #onConnectFailure = (): void => {
    const upstream = this.#upstream;
    const attempt = this.#attempt;
    this.#attempt = undefined;
    this.#upstream = undefined;
    if (upstream !== undefined) {
      upstream.removeAllListeners('connect');
      upstream.on('error', ignoreError);
      upstream.destroy();
    }
    if (attempt === undefined) return;
    if (this.#closed) {
      // The client left while the endpoint was connecting: abandoned, not held against the endpoint.
      attempt.end();
      return;
    }
    if (this.#tries.failed(attempt, 'nothing-sent', anyRequest) === 'another') this.#connect();
    else {
      this.#access?.fail(proxyErrors.connectFailure.flag);
      this.#close();
    }
  };

  readonly #onConnected = (): void => {
    const upstream = this.#upstream!;
    const client = this.#client;
    const attempt = this.#attempt!;
    upstream.off('timeout', this.#onConnectFailure);
    upstream.off('error', this.#onConnectFailure);
    attempt.connected();
    if (this.#closed) {
      upstream.destroy();
      return;
    }
    const version = this.#service.snapshot.proxyProtocol;
    if (version !== undefined) {
      const { client: source, local } = this.#addresses;
      upstream.write(encodeProxyHeader(version === 'v1' ? 1 : 2, source, local));
    }
    if (this.#pending.length > 0) upstream.write(this.#pending);
    this.#pending = Buffer.alloc(0);
    const idleMs = this.#service.snapshot.timeouts.tunnelIdleMs;
    // A socket's timer restarts on reads and writes alike, so each side's timer sees traffic in both directions.
    upstream.setTimeout(idleMs);
    client.setTimeout(idleMs);
    upstream.on('timeout', this.#close);
    client.on('timeout', this.#close);
    upstream.on('error', this.#onUpstreamError);
    upstream.once('close', this.#onUpstreamClose);
    const traffic = this.#traffic;
    relay(client, upstream, (bytes) => {
      traffic.bytesIn += bytes;
      attempt.sent(bytes);
    });
    relay(upstream, client, (bytes) => {
      traffic.bytesOut += bytes;
      attempt.received(bytes);
    });
    client.resume();
  };

  /** The client reset or failed: the endpoint gets a reset too (not a clean FIN that could look like a whole stream). */
  readonly #onClientError = (): void => {
    if (this.#closed) return;
    this.#access?.fail(accessFlags.downstreamClosed);
    this.#closed = true;
    this.#release();
    const upstream = this.#upstream;
    if (upstream !== undefined && !upstream.destroyed) upstream.resetAndDestroy();
    this.#client.destroy();
  };

  readonly #onUpstreamError = (): void => {
    if (this.#closed) return;
    this.#access?.fail(proxyErrors.upstreamReset.flag);
    this.#closed = true;
    this.#release();
    const client = this.#client;
    if (!client.destroyed) client.resetAndDestroy();
    this.#upstream?.destroy();
  };

  /**
   * Both directions done, or the client went away (perhaps while the endpoint was still connecting, which is then
   * abandoned without counting against it): whatever the endpoint still had for the client has nowhere to go.
   */
  readonly #onClientClose = (): void => {
    this.#close();
  };

  readonly #onUpstreamClose = (): void => {
    this.#close();
  };

  /** Ends the connection on both sides (idle timeout, no endpoint, or both sides closed). */
  readonly #close = (): void => {
    this.#closed = true;
    this.#release();
    this.#client.destroy();
    const upstream = this.#upstream;
    if (upstream !== undefined) {
      // A connect still in flight may fail after this: absorbed, and not held against the endpoint.
      upstream.on('error', ignoreError);
      upstream.destroy();
    }
  };

  #release(): void {
    this.#attempt?.end();
  }
}

/**
 * Copies `from` to `to` with back-pressure, counting bytes; `from`'s end (a FIN) ends `to`'s writing side only, so
 * the other direction keeps flowing (half-close).
 */
function relay(from: Socket, to: Socket, count: (bytes: number) => void): void {
  const resume = (): void => {
    from.resume();
  };
  from.on('data', (chunk: Buffer) => {
    count(chunk.length);
    if (!to.write(chunk)) {
      from.pause();
      to.once('drain', resume);
    }
  });
  const end = (): void => {
    if (!to.destroyed) to.end();
  };
  // A client that sent its FIN while the endpoint was still connecting has already emitted 'end' (nothing was left
  // to read): pass the FIN on now, or the endpoint would wait for it until the idle timeout.
  if (from.readableEnded) end();
  else from.once('end', end);
}

/** Host and port of an endpoint URL (`tcp://`, `udp://`, `http://`, `https://`), brackets off an IPv6 host. */
export function hostAndPort(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  const host = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname;
  const port = Number(parsed.port) || (parsed.protocol === 'https:' ? 443 : 80);
  return { host, port };
}
