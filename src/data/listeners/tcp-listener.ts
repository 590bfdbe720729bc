import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { listenAt, sameSocketAddress } from '../../config/address.js';
import { proxyErrors } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { throttledErrorLog } from '../../core/throttled-log.js';
import type { AccessLog } from '../../observability/access-log.js';
import { ConnectionAccessRecord } from '../downstream/access-records.js';
import type { ListenerSnapshot } from '../../core/snapshot.js';
import type { ListenerTraffic } from '../../core/traffic.js';
import type { ClientHello } from '../l4/client-hello.js';
import type { ProxyAddress } from '../l4/proxy-protocol.js';
import type { TrustedProxies } from '../downstream/client-address.js';
import { peerAddress } from '../downstream/client-address.js';
import { TcpTunnel } from '../l4/tcp-tunnel.js';
import type { OverloadGuard } from '../overload/overload-guard.js';
import type { ServiceRuntime } from '../runtime.js';
import { drainUntil } from './drain.js';
import { readPreamble } from './preamble.js';
import type { Listener } from './listener.js';

/** What a `tcp` or `tls-passthrough` listener needs from one snapshot. */
export interface L4ListenerRuntime {
  readonly snapshot: ListenerSnapshot;
  readonly services: ReadonlyMap<string, ServiceRuntime>;
  /** Peers whose connections start with a PROXY protocol header (`acceptProxyProtocol`). */
  readonly proxyPeers: TrustedProxies | undefined;
  /** The process's connection total (`overload.maxConnections`), which `tcp` and `tls-passthrough` count toward. */
  readonly overload: OverloadGuard;
  /** Where each connection's (or UDP session's) line goes; undefined when the access log is off. */
  readonly accessLog: AccessLog | undefined;
}

/**
 * A `tcp` or `tls-passthrough` listener (docs/l4.md). Each connection goes whole to one endpoint (TcpTunnel). Before
 * that, a connection from a peer in `acceptProxyProtocol` must send a PROXY header (its client address becomes the
 * connection's), and on `tls-passthrough` the ClientHello is read, never answered, to route by SNI (and ALPN); both
 * must arrive within `timeouts.headerMs`. Nothing is decrypted: the client sees the instance's certificate.
 */
export class TcpListener implements Listener<L4ListenerRuntime> {
  readonly #server: Server;
  readonly #log: Logger;
  #runtime: L4ListenerRuntime;
  readonly #sockets = new Set<Socket>();
  #idle: (() => void) | undefined;
  readonly traffic: ListenerTraffic = { open: 0, accepted: 0, bytesIn: 0, bytesOut: 0 };

  constructor(runtime: L4ListenerRuntime, log: Logger) {
    this.#runtime = runtime;
    this.#log = log.child({ listener: runtime.snapshot.name });
    // Half-open: a client's FIN ends only the direction toward the instance; the answer still comes back.
    this.#server = createServer({ allowHalfOpen: true, noDelay: true }, this.#onConnection);
    this.#server.on('error', throttledErrorLog(this.#log, 'listener error'));
  }

  /** The listener's name (as in the configuration). */
  get name(): string {
    return this.#runtime.snapshot.name;
  }

  get protocol(): ListenerSnapshot['protocol'] {
    return this.#runtime.snapshot.protocol;
  }

  /** True when this listener can take `next` without a new socket (same address and protocol). */
  accepts(next: { readonly snapshot: ListenerSnapshot }): boolean {
    const a = this.#runtime.snapshot;
    const b = next.snapshot;
    return a.protocol === b.protocol && sameSocketAddress(a.address, b.address, this.#server.address() ?? null);
  }

  /** New connections use the new runtime; open ones keep their endpoint until they close. */
  update(runtime: L4ListenerRuntime): void {
    this.#runtime = runtime;
  }

  async listen(): Promise<void> {
    await listenAt(this.#server, this.#runtime.snapshot.address);
    const bound = this.address();
    this.#log.info({ address: bound?.address, port: bound?.port, protocol: this.protocol }, 'listening');
  }

  address(): AddressInfo | undefined {
    const address = this.#server.address();
    return address !== null && typeof address === 'object' ? address : undefined;
  }

  /**
   * Stops accepting, lets open connections finish until `deadlineMs`, then closes what is left. Resolves true when
   * the deadline forced connections closed.
   */
  async close(deadlineMs: number): Promise<boolean> {
    const stopped = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    const idle =
      this.#sockets.size === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            this.#idle = resolve;
          });
    const forced = await drainUntil(
      idle,
      deadlineMs,
      () => undefined,
      () => {
        for (const socket of this.#sockets) socket.destroy();
      },
    );
    await stopped;
    return forced;
  }

  readonly #onConnection = (socket: Socket): void => {
    const traffic = this.traffic;
    traffic.accepted++;
    socket.on('error', ignoreError);
    const runtime = this.#runtime;
    const overload = runtime.overload;
    if (this.#sockets.size >= runtime.snapshot.limits.maxConnections || !overload.openConnection()) {
      // Over the listener's limit or the process total: refused at once (L4 has no status to answer with).
      overload.counts.connections++;
      socket.resetAndDestroy();
      return;
    }
    traffic.open++;
    this.#sockets.add(socket);
    socket.once('close', () => {
      overload.closeConnection();
      traffic.open--;
      this.#sockets.delete(socket);
      if (this.#sockets.size === 0) this.#idle?.();
    });
    const peer: ProxyAddress = { address: peerAddress(socket.remoteAddress), port: socket.remotePort ?? 0 };
    const local: ProxyAddress = { address: peerAddress(socket.localAddress), port: socket.localPort ?? 0 };
    const wantsProxy = runtime.proxyPeers?.trusts(peer.address) === true;
    const wantsHello = runtime.snapshot.protocol === 'tls-passthrough';
    const access =
      runtime.accessLog === undefined
        ? undefined
        : new ConnectionAccessRecord(runtime.accessLog, socket, wantsHello ? 'tls' : 'tcp', peer.address);
    if (!wantsProxy && !wantsHello) {
      this.#route(socket, runtime, peer, local, undefined, Buffer.alloc(0), access);
      return;
    }
    readPreamble(socket, peer, wantsProxy, wantsHello, runtime.snapshot.timeouts.headerMs, (preamble, problem) => {
      if (preamble === undefined) {
        this.#log.debug({ client: peer.address, problem }, 'connection closed before routing');
        access?.fail(proxyErrors.badRequest.flag);
        socket.destroy();
        return;
      }
      // The runtime in force now: a reload while the preamble was arriving applies to this connection.
      this.#route(socket, this.#runtime, preamble.client, local, preamble.hello, preamble.rest, access);
    });
  };

  #route(
    socket: Socket,
    runtime: L4ListenerRuntime,
    client: ProxyAddress,
    local: ProxyAddress,
    hello: ClientHello | undefined,
    pending: Buffer,
    access: ConnectionAccessRecord | undefined,
  ): void {
    const serviceName =
      runtime.snapshot.protocol === 'tls-passthrough'
        ? passthroughService(runtime.snapshot, hello)
        : runtime.snapshot.service;
    const service = serviceName === undefined ? undefined : runtime.services.get(serviceName);
    if (access !== undefined) {
      access.clientIp = client.address;
      access.host = hello?.serverName;
      access.service = service?.snapshot.name;
    }
    if (service === undefined) {
      this.#log.debug({ client: client.address, sni: hello?.serverName }, 'no route for the connection');
      access?.fail(proxyErrors.noRoute.flag);
      socket.destroy();
      return;
    }
    new TcpTunnel(socket, service, { client, local }, this.traffic, pending, access).start();
  }
}

const ignoreError = (): void => undefined;

/**
 * The service a ClientHello goes to: the first route whose `sni` names its server name exactly, else the route with
 * the longest matching `*.` wildcard (a wildcard matches one or more labels in front of its suffix), where routes
 * with `alpn` also need one of those protocols offered; else the listener's `service`.
 */
export function passthroughService(listener: ListenerSnapshot, hello: ClientHello | undefined): string | undefined {
  const name = hello?.serverName;
  if (name !== undefined) {
    let wildcard: { readonly service: string; readonly length: number } | undefined;
    for (const route of listener.routes ?? []) {
      if (route.alpn !== undefined && !route.alpn.some((p) => hello!.alpn.includes(p))) continue;
      const sni = route.sni.toLowerCase();
      if (sni === name) return route.service;
      if (
        sni.startsWith('*.') &&
        name.endsWith(sni.slice(1)) &&
        (wildcard === undefined || sni.length > wildcard.length)
      )
        wildcard = { service: route.service, length: sni.length };
    }
    if (wildcard !== undefined) return wildcard.service;
  }
  return listener.service;
}
