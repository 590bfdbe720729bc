import type { AddressInfo, Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { listenAt } from '../../config/address.js';
import { ClientConnections } from './client-connections.js';
import { drainUntil } from './drain.js';
import { closeServer, proxyProtocolFront, type ProxyProtocolFront } from './proxy-protocol-front.js';
import type { Logger } from '../../core/log.js';
import { throttledErrorLog } from '../../core/throttled-log.js';
import type { ListenerTraffic } from '../../core/traffic.js';
import type { ListenerRuntime } from '../runtime.js';
import { acmeTlsAlpn, acmeTlsOptions, type AcmeChallenges } from './acme-challenges.js';
import { HttpListener } from './http-listener.js';
import { OcspStapler } from './ocsp-stapling.js';
import { Http2Sessions } from './http2-sessions.js';
import { intermediateCiphers, TlsContexts, type CertificateInfo } from './tls-contexts.js';
import type { Listener } from './listener.js';

const ignoreError = (): void => undefined;

/**
 * A TLS-terminating listener: one port, the certificate chosen by SNI, HTTP/2 and HTTP/1.1 by ALPN. The TLS server
 * accepts and hands each decrypted connection to an HTTP/2 server or to an HTTP/1.1 `HttpListener` (which brings all
 * of its limits and timeouts); both serve requests through the same `handleRequest` with `X-Forwarded-Proto: https`.
 * HTTP/2 limits follow docs/guarantees.md §2 (`Http2Sessions`: 100 concurrent streams, a 64 KiB stream window, a 16 KiB
 * header list).
 */
export class HttpsListener implements Listener<ListenerRuntime> {
  readonly #log: Logger;
  readonly #tls: TlsServer;
  /** With `acceptProxyProtocol`: the socket that listens, taking PROXY headers off before TLS sees bytes. */
  readonly #front: ProxyProtocolFront | undefined;
  readonly #http1: HttpListener;
  readonly #h2: Http2Sessions;
  readonly #contexts: TlsContexts;
  readonly #sockets = new Set<TLSSocket>();
  /** Open TCP connections (handshakes included), what those already closed exchanged, and how many are admitted. */
  readonly #connections = new ClientConnections();
  #runtime: ListenerRuntime;
  /** Stops hearing about ACME certificate changes (on close). */
  readonly #unsubscribe: () => void;
  /** With `tls.ocspStapling`: OCSP responses fetched in the background, stapled from cache. */
  readonly #stapler: OcspStapler | undefined;

  /** `acme`: the data plane's ACME material (managed certificates, TLS-ALPN-01 challenges). */
  constructor(runtime: ListenerRuntime, log: Logger, acme?: AcmeChallenges) {
    const tls = runtime.snapshot.tls;
    if (tls === undefined) throw new Error(`listener ${runtime.snapshot.name} has no tls`);
    this.#runtime = runtime;
    this.#log = log.child({ listener: runtime.snapshot.name });
    const name = runtime.snapshot.name;
    this.#stapler = tls.ocspStapling ? new OcspStapler(this.#log) : undefined;
    // Handshakes without SNI (clients that dial an IP address) get the first certificate.
    this.#contexts = new TlsContexts(
      tls,
      this.#log,
      (defaults) => {
        this.#tls.setSecureContext(defaults);
        this.#stapler?.track(this.#contexts.chains);
      },
      () => acme?.certificatesFor(name) ?? [],
    );
    this.#unsubscribe =
      acme?.subscribe((changed) => (changed === name ? this.#reloadManaged() : Promise.resolve())) ?? (() => undefined);
    this.#http1 = new HttpListener(runtime, log);
    this.#h2 = new Http2Sessions(() => this.#runtime);
    const http2 = runtime.snapshot.http2 ?? true;
    const protocols = http2 ? ['h2', 'http/1.1'] : ['http/1.1'];
    const contextFor = (serverName: string | undefined): ReturnType<TlsContexts['contextFor']> =>
      this.#contexts.contextFor(serverName);
    this.#tls = createTlsServer(
      {
        ...(tls.acme !== undefined && acme !== undefined
          ? acmeTlsOptions(acme, protocols, contextFor)
          : { SNICallback: (n: string, done) => done(null, contextFor(n)), ALPNProtocols: protocols }),
        minVersion: tls.minVersion,
        ciphers: intermediateCiphers,
        honorCipherOrder: false,
      },
      this.#onSecureConnection,
    );
    this.#tls.on('tlsClientError', (_error, socket) => socket.destroy());
    if (this.#stapler !== undefined) this.#tls.on('OCSPRequest', this.#stapler.staple);
    this.#tls.on('connection', this.#onConnection);
    this.#tls.on('error', throttledErrorLog(this.#log, 'listener error'));
    this.#front = proxyProtocolFront(this.#tls, runtime.snapshot, this.#log);
  }

  get name(): string {
    return this.#runtime.snapshot.name;
  }

  /** The configured protocol (the `protocol` label of the connection metrics). */
  get protocol(): string {
    return this.#runtime.snapshot.protocol;
  }

  /**
   * Client connections now and since the start (counted at TCP accept, so a connection in its handshake is open too;
   * an HTTP/2 session is one connection), and the bytes on the wire, TLS records included: those of closed
   * connections plus what the open ones have carried so far.
   */
  get traffic(): ListenerTraffic {
    return this.#connections.traffic;
  }

  /** The certificates in force (for the admin API). */
  get certificates(): readonly CertificateInfo[] {
    return this.#contexts.certificates;
  }

  accepts(next: ListenerRuntime): boolean {
    return (
      this.#http1.accepts(next) &&
      (this.#runtime.snapshot.http2 ?? true) === (next.snapshot.http2 ?? true) &&
      (this.#runtime.snapshot.tls?.acme === undefined) === (next.snapshot.tls?.acme === undefined) &&
      this.#runtime.snapshot.tls?.ocspStapling === next.snapshot.tls?.ocspStapling
    );
  }

  /** The ACME resolver published new certificates for this listener: new handshakes get them. */
  #reloadManaged(): Promise<void> {
    return this.#contexts
      .load()
      .catch((error: unknown) =>
        this.#log.error({ err: error }, 'managed certificate reload failed; the previous certificates stay'),
      );
  }

  /** Swaps in a new runtime; certificates are read again (a failure keeps the old ones and is logged). */
  update(runtime: ListenerRuntime): void {
    const certificatesChanged = JSON.stringify(runtime.snapshot.tls) !== JSON.stringify(this.#runtime.snapshot.tls);
    this.#runtime = runtime;
    this.#http1.update(runtime);
    if (certificatesChanged && runtime.snapshot.tls !== undefined) {
      this.#contexts
        .load(runtime.snapshot.tls)
        .then(() => this.#contexts.watch())
        .catch((error: unknown) =>
          this.#log.error({ err: error }, 'certificate reload failed; the previous certificates stay'),
        );
    }
  }

  /** Re-reads the certificate files (SIGHUP, `POST /api/reload`); open connections keep their session. */
  reloadCertificates(): Promise<void> {
    return this.#contexts.load();
  }

  async listen(): Promise<AddressInfo> {
    await this.#contexts.load();
    this.#contexts.watch();
    await listenAt(this.#front?.server ?? this.#tls, this.#runtime.snapshot.address);
    const bound = this.address();
    this.#log.info({ address: bound.address, port: bound.port, tls: true }, 'listening');
    return bound;
  }

  address(): AddressInfo {
    return (this.#front?.server ?? this.#tls).address() as AddressInfo;
  }

  /**
   * Stops accepting; HTTP/2 sessions get GOAWAY and HTTP/1.1 keep-alive clients `Connection: close`, in-flight
   * requests finish until `deadlineMs`, then what is left is closed. Resolves true when the deadline forced it.
   */
  async close(deadlineMs: number): Promise<boolean> {
    this.#contexts.unwatch();
    this.#unsubscribe();
    this.#stapler?.close();
    const closed = Promise.all([closeServer(this.#tls), closeServer(this.#front?.server)]);
    this.#h2.goAway();
    return drainUntil(
      closed,
      deadlineMs,
      () => this.#http1.drainIdle(),
      () => {
        this.#h2.destroyAll();
        for (const socket of this.#sockets) socket.destroy();
      },
    );
  }

  readonly #onConnection = (socket: Socket): void => {
    this.#connections.add(socket);
    this.#admit(socket);
  };

  /**
   * Counts a TCP connection against `limits.maxConnections` and the process total (`overload.maxConnections`). One
   * over either is reset before its handshake: a handshake costs more CPU than the answer is worth when overloaded,
   * and an HTTP/2 client could not be answered in HTTP/1.1 anyway (docs/operations.md "Overload protection").
   */
  #admit(socket: Socket): void {
    const runtime = this.#runtime;
    if (this.#connections.admit(socket, runtime.snapshot.limits.maxConnections, runtime.overload)) return;
    socket.on('error', ignoreError);
    socket.resetAndDestroy();
  }

  readonly #onSecureConnection = (socket: TLSSocket): void => {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => undefined);
    // A TLS-ALPN-01 validation is over once the handshake showed the certificate (RFC 8737 §3).
    if (socket.alpnProtocol === acmeTlsAlpn) socket.destroy();
    else if (socket.alpnProtocol === 'h2') this.#h2.accept(socket);
    else this.#http1.accept(socket);
  };
}
