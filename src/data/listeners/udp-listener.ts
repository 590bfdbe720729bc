import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIP, isIPv6, type AddressInfo } from 'node:net';
import { parseListenAddress, sameSocketAddress } from '../../config/address.js';
import { proxyErrors } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { writeUdpSession } from '../downstream/access-records.js';
import type { ListenerSnapshot } from '../../core/snapshot.js';
import type { ListenerTraffic } from '../../core/traffic.js';
import { peerAddress } from '../downstream/client-address.js';
import { attemptPolicies } from '../upstream/attempt-policy.js';
import { UpstreamTries, type UpstreamAttempt } from '../upstream/attempt.js';
import { hostAndPort } from '../l4/tcp-tunnel.js';
import type { ServiceRuntime } from '../runtime.js';
import type { L4ListenerRuntime } from './tcp-listener.js';
import type { Listener } from './listener.js';

/**
 * Datagrams a session keeps while its socket is still connecting (a DNS lookup for a host name); later ones are
 * dropped, as a full network queue would.
 */
const maxPendingDatagrams = 64;

/**
 * Bytes a socket may have waiting to be sent before further datagrams toward it are dropped: UDP promises no
 * delivery, and dropping beats buffering without bound when a peer or the network is slower than the sender.
 */
const maxQueuedBytes = 1 << 20;

/** The longest pause between two sweeps for idle sessions: expiry is coarse, one timer for the whole table. */
const maxSweepIntervalMs = 1_000;

const ignoreError = (): void => undefined;

/** One client (address and port) and the connected socket its datagrams go to one endpoint over. */
interface UdpSession {
  /** `address|port` of the client as the listener socket saw it. */
  readonly key: string;
  readonly clientAddress: string;
  readonly clientPort: number;
  readonly service: ServiceRuntime;
  /** The session's try at its endpoint: it holds the endpoint's lease for the session's life. */
  readonly attempt: UpstreamAttempt;
  readonly upstream: Socket;
  /** Datagrams received before the upstream socket was connected; undefined once it is. */
  pending: Buffer[] | undefined;
  /** When the session began, and when a datagram last went either way (epoch ms). */
  readonly startedAt: number;
  activeAt: number;
  /** Datagram payload bytes from the client, and sent back to it (for the access log). */
  bytesIn: number;
  bytesOut: number;
  answered: boolean;
  ended: boolean;
}

/**
 * A `udp` listener (docs/l4.md). A session is a client address and port: its first datagram picks an endpoint of the
 * listener's service with the service's algorithm (consistent-hash keys on the client IP), and a socket connected to
 * that endpoint carries every later datagram of the session there. Replies are sent back from the listener's own
 * socket, so the client hears from the address it talked to. A session lives while datagrams flow either way within
 * `timeouts.sessionIdleMs`, counts as one in-flight unit on its endpoint (least-connections sees sessions), and at
 * `limits.maxConnections` sessions the least recently active one makes room for a new one. An ICMP error (port
 * unreachable) or any error on a session's socket ends that session only; the client's next datagram starts anew.
 */
export class UdpListener implements Listener<L4ListenerRuntime> {
  readonly #socket: Socket;
  readonly #log: Logger;
  #runtime: L4ListenerRuntime;
  /**
   * Sessions by `address|port`, least recently active first: activity re-inserts a session at the end, so the idle
   * sweep stops at the first live one and eviction takes the first one, both without scanning the table.
   */
  readonly #sessions = new Map<string, UdpSession>();
  /** The session re-inserted last: a burst from one client skips the delete-and-insert. */
  #newest: UdpSession | undefined;
  #sweeper: NodeJS.Timeout | undefined;
  #sweepIntervalMs = 0;
  #closing: Promise<void> | undefined;
  /** `open`: sessions now; `accepted`: sessions created; bytes: datagram payloads from and to clients. */
  readonly traffic: ListenerTraffic = { open: 0, accepted: 0, bytesIn: 0, bytesOut: 0 };
  /** Datagrams dropped: no endpoint for a new session, or a send queue over its bound. */
  droppedDatagrams = 0;

  constructor(runtime: L4ListenerRuntime, log: Logger) {
    this.#runtime = runtime;
    this.#log = log.child({ listener: runtime.snapshot.name });
    // Every interface (empty host or `::`) is a dual-stack udp6 socket; an IPv4 host (or a name) binds udp4.
    const host = parseListenAddress(runtime.snapshot.address)?.host ?? '';
    const type = host === '' || isIPv6(host) ? 'udp6' : 'udp4';
    this.#socket = createSocket(type);
    this.#socket.on('error', (error) => this.#log.error({ err: error }, 'listener error'));
    this.#socket.on('message', this.#onDatagram);
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
    return a.protocol === b.protocol && sameSocketAddress(a.address, b.address, this.address() ?? null);
  }

  /**
   * New sessions use the new runtime. A session keeps its endpoint while the listener still sends to its service
   * and that service still has the endpoint at the same URL; others end (the client's next datagram picks anew).
   */
  update(runtime: L4ListenerRuntime): void {
    this.#runtime = runtime;
    for (const session of this.#sessions.values()) {
      if (!stillRoutable(runtime, session)) this.#end(session);
    }
    if (this.#sweeper !== undefined && sweepIntervalMs(runtime) !== this.#sweepIntervalMs) this.#startSweeper();
  }

  listen(): Promise<void> {
    const address = parseListenAddress(this.#runtime.snapshot.address);
    if (address === undefined)
      return Promise.reject(new Error(`invalid listen address ${this.#runtime.snapshot.address}`));
    const socket = this.#socket;
    return new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ port: address.port, ...(address.host === '' ? {} : { address: address.host }) }, () => {
        socket.off('error', reject);
        this.#startSweeper();
        const bound = this.address();
        this.#log.info({ address: bound?.address, port: bound?.port, protocol: 'udp' }, 'listening');
        resolve();
      });
    });
  }

  address(): AddressInfo | undefined {
    try {
      return this.#socket.address();
    } catch {
      // Not bound (yet, or any more).
      return undefined;
    }
  }

  /**
   * Stops receiving and ends every session at once: UDP has no connection to drain, and a reply still on its way
   * has no socket to come back to. Resolves false (nothing was cut short by the deadline).
   */
  async close(_deadlineMs: number): Promise<boolean> {
    this.#closing ??= new Promise<void>((resolve) => {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
      for (const session of this.#sessions.values()) this.#end(session);
      try {
        this.#socket.close(() => resolve());
      } catch {
        // Never bound: nothing to close.
        resolve();
      }
    });
    await this.#closing;
    return false;
  }

  readonly #onDatagram = (datagram: Buffer, from: RemoteInfo): void => {
    // A datagram already read when close() began has no session to go to any more.
    if (this.#closing !== undefined) return;
    this.traffic.bytesIn += datagram.length;
    const key = `${from.address}|${from.port}`;
    let session = this.#sessions.get(key);
    if (session === undefined) {
      session = this.#open(key, from);
      if (session === undefined) {
        this.droppedDatagrams++;
        return;
      }
    } else {
      this.#touch(session);
    }
    session.bytesIn += datagram.length;
    const upstream = session.upstream;
    if (session.pending !== undefined) {
      if (session.pending.length < maxPendingDatagrams) session.pending.push(datagram);
      else this.droppedDatagrams++;
    } else if (upstream.getSendQueueSize() > maxQueuedBytes) {
      this.droppedDatagrams++;
    } else {
      // Without a callback a send error is emitted as 'error' on the socket, which ends the session.
      session.attempt.sent(datagram.length);
      upstream.send(datagram);
    }
  };

  /** A new session for a client's first datagram, or undefined when no endpoint can take one. */
  #open(key: string, from: RemoteInfo): UdpSession | undefined {
    const runtime = this.#runtime;
    const serviceName = runtime.snapshot.service;
    const service = serviceName === undefined ? undefined : runtime.services.get(serviceName);
    if (service === undefined) return undefined;
    const clientIp = peerAddress(from.address);
    // Endpoints at their session limit (`maxConnectionsPerEndpoint`) are passed over.
    const attempt = new UpstreamTries(service, attemptPolicies.udp, { hashKey: () => clientIp }).connect(true);
    if (attempt === undefined) {
      this.#log.debug({ client: peerAddress(from.address), service: serviceName }, 'no endpoint for a new udp session');
      return undefined;
    }
    // The table is full: the least recently active session (the first) makes room.
    for (const oldest of this.#sessions.values()) {
      if (this.#sessions.size < runtime.snapshot.limits.maxConnections) break;
      this.#end(oldest);
    }
    const { host, port } = hostAndPort(attempt.endpoint.endpoint.url);
    const upstream = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
    const now = Date.now();
    const session: UdpSession = {
      key,
      clientAddress: from.address,
      clientPort: from.port,
      service,
      attempt,
      upstream,
      pending: [],
      startedAt: now,
      activeAt: now,
      bytesIn: 0,
      bytesOut: 0,
      answered: false,
      ended: false,
    };
    upstream.on('error', (error) => this.#onSessionError(session, error));
    upstream.on('message', (reply: Buffer) => this.#onReply(session, reply));
    // A connected socket hears only its endpoint, and the kernel reports ICMP errors (port unreachable) on it.
    upstream.connect(port, host, (error?: Error) => {
      if (error !== undefined && error !== null) return this.#onSessionError(session, error);
      this.#flush(session);
    });
    this.#sessions.set(key, session);
    this.#newest = session;
    this.traffic.open++;
    this.traffic.accepted++;
    return session;
  }

  /** The socket is connected: what the client sent meanwhile goes out, in order. */
  #flush(session: UdpSession): void {
    const pending = session.pending;
    session.pending = undefined;
    if (session.ended || pending === undefined) return;
    for (const datagram of pending) {
      if (session.ended) return;
      session.attempt.sent(datagram.length);
      session.upstream.send(datagram);
    }
  }

  #onReply(session: UdpSession, reply: Buffer): void {
    if (session.ended) return;
    if (!session.answered) {
      session.answered = true;
      session.attempt.connected();
    }
    this.#touch(session);
    session.attempt.received(reply.length);
    if (this.#socket.getSendQueueSize() > maxQueuedBytes) {
      this.droppedDatagrams++;
      return;
    }
    this.traffic.bytesOut += reply.length;
    session.bytesOut += reply.length;
    this.#socket.send(reply, session.clientPort, session.clientAddress, ignoreError);
  }

  /**
   * An ICMP error (the kernel reports port unreachable as ECONNREFUSED on the connected socket) or any other socket
   * error ends the session. A refusal counts against the endpoint like a refused TCP connect does.
   */
  #onSessionError(session: UdpSession, error: Error): void {
    if (session.ended) return;
    const code = (error as NodeJS.ErrnoException).code;
    this.#log.debug(
      { client: peerAddress(session.clientAddress), endpoint: session.attempt.endpoint.endpoint.id, code },
      'udp session error',
    );
    const refused = code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH';
    if (refused) session.attempt.failed();
    this.#end(session, refused ? proxyErrors.connectFailure.flag : proxyErrors.upstreamReset.flag);
  }

  /** Marks a session active now and moves it to the end of the table (most recently active). */
  #touch(session: UdpSession): void {
    session.activeAt = Date.now();
    if (this.#newest === session) return;
    this.#sessions.delete(session.key);
    this.#sessions.set(session.key, session);
    this.#newest = session;
  }

  /** Ends a session (idle, evicted, no longer routable, failed with `flag`, or the listener closing) and logs it. */
  #end(session: UdpSession, flag = ''): void {
    if (session.ended) return;
    session.ended = true;
    const accessLog = this.#runtime.accessLog;
    if (accessLog !== undefined) {
      writeUdpSession(
        accessLog,
        {
          startedAt: session.startedAt,
          clientAddress: peerAddress(session.clientAddress),
          service: session.service.snapshot.name,
          endpoint: session.attempt.endpoint.endpoint.id,
          bytesIn: session.bytesIn,
          bytesOut: session.bytesOut,
        },
        flag,
      );
    }
    session.pending = undefined;
    if (this.#sessions.get(session.key) === session) this.#sessions.delete(session.key);
    if (this.#newest === session) this.#newest = undefined;
    this.traffic.open--;
    session.attempt.end();
    const upstream = session.upstream;
    upstream.removeAllListeners('message');
    upstream.removeAllListeners('error');
    upstream.on('error', ignoreError);
    try {
      upstream.close();
    } catch {
      // Already closed.
    }
  }

  #startSweeper(): void {
    clearInterval(this.#sweeper);
    this.#sweepIntervalMs = sweepIntervalMs(this.#runtime);
    this.#sweeper = setInterval(this.#sweep, this.#sweepIntervalMs);
    this.#sweeper.unref();
  }

  /** Ends the sessions idle for `sessionIdleMs`: they are at the front of the table, so it stops at the first live one. */
  readonly #sweep = (): void => {
    const expired = Date.now() - this.#runtime.snapshot.timeouts.sessionIdleMs;
    for (const session of this.#sessions.values()) {
      if (session.activeAt > expired) break;
      this.#end(session);
    }
  };
}

/** How often idle sessions are looked for: a quarter of the idle timeout, at most once a second. */
function sweepIntervalMs(runtime: L4ListenerRuntime): number {
  return Math.max(1, Math.min(maxSweepIntervalMs, Math.floor(runtime.snapshot.timeouts.sessionIdleMs / 4)));
}

/** Whether a session may carry on under a new runtime: same service for the listener, same endpoint at the same URL. */
function stillRoutable(runtime: L4ListenerRuntime, session: UdpSession): boolean {
  const name = session.service.snapshot.name;
  if (runtime.snapshot.service !== name) return false;
  const current = session.attempt.endpoint.endpoint;
  const endpoint = runtime.services.get(name)?.endpoints.get(current.id);
  return endpoint !== undefined && endpoint.endpoint.url === current.url;
}
