import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { accessFlags } from '../../core/access-entry.js';
import type { RouteSnapshot } from '../../core/snapshot.js';
import type { AccessLog } from '../../observability/access-log.js';
import { clientAddressOf, type RequestHead } from './client-address.js';
import { grpcStatuses } from '../http/grpc-status.js';
import { connectionRecord, problemOf } from './connection-record.js';

/**
 * What the data plane notes for the access log while a request, tunnel or connection runs. A record exists only when
 * the access log is on (the request path then tests one reference); its fields are plain stores, and the line is built
 * and handed to the log once, when the client side closes.
 */

/** Bytes read from and written to `socket` since its last line (or since it was accepted). */
function connectionBytes(socket: Socket | null | undefined): { read: number; written: number } {
  if (socket === null || socket === undefined) return { read: 0, written: 0 };
  const read = socket.bytesRead ?? 0;
  const written = socket.bytesWritten ?? 0;
  const record = connectionRecord(socket);
  const delta =
    record.readMark === undefined
      ? { read, written }
      : { read: read - record.readMark, written: written - record.writtenMark };
  record.readMark = read;
  record.writtenMark = written;
  return delta;
}

/** The protocol field of an HTTP line. */
function protocolOf(req: IncomingMessage): string {
  if (req.httpVersionMajor === 2) return 'HTTP/2.0';
  return req.httpVersionMinor === 0 ? 'HTTP/1.0' : 'HTTP/1.1';
}

/** The first value of a request header (lower-case `name`), from the raw list; undefined when absent. */
function headerOf(rawHeaders: readonly string[], name: string): string | undefined {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.length === name.length && rawHeaders[i]!.toLowerCase() === name) return rawHeaders[i + 1];
  }
  return undefined;
}

/**
 * One HTTP request (its line is written when the response closes) or one WebSocket upgrade (written when the client
 * connection closes). The proxy fills in what it learns: the forwarding head, the route, each attempt and the
 * upstream's answer, and the flag of the error it answered with.
 */
export class HttpAccessRecord {
  readonly #log: AccessLog;
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse | undefined;
  readonly #time = Date.now();
  readonly #startedAt = performance.now();
  #sentAt = 0;
  /** Set once the forwarding headers are known (request id, client address, host). */
  head: RequestHead | undefined = undefined;
  /** The request id of an answer given before `head` was known. */
  requestId: string | undefined = undefined;
  route: RouteSnapshot | undefined = undefined;
  endpoint: string | undefined = undefined;
  upstreamStatus: number | undefined = undefined;
  upstreamDurationMs: number | undefined = undefined;
  retries = 0;
  sticky = false;
  /**
   * The flag of an outcome no problem document tells (an upstream failure mid-body, the client leaving); a request
   * answered with a problem gets that error's flag (`problemOf`). Empty when there is none.
   */
  flag = '';
  /** The status sent to a WebSocket client (101, the instance's refusal, or a problem); requests read the response. */
  status = 0;
  /** Response body bytes relayed from the upstream: HTTP/2 streams share their connection's byte counters. */
  bodyBytesOut = 0;

  constructor(log: AccessLog, req: IncomingMessage, res: ServerResponse | undefined) {
    this.#log = log;
    this.#req = req;
    this.#res = res;
  }

  /** An attempt goes to `endpoint`: chosen by stickiness, or again after a failed attempt. */
  attempt(endpoint: string, sticky: boolean, retry: boolean): void {
    this.endpoint = endpoint;
    this.sticky = sticky;
    if (retry) this.retries++;
    this.upstreamStatus = undefined;
    this.upstreamDurationMs = undefined;
    this.#sentAt = performance.now();
  }

  /** The endpoint answered with a response head. */
  answered(status: number): void {
    this.upstreamStatus = status;
    this.upstreamDurationMs = performance.now() - this.#sentAt;
  }

  /** The response closed: writes the request's line. */
  finish(): void {
    const res = this.#res!;
    const req = this.#req;
    let bytesIn: number;
    let bytesOut: number;
    if ('stream' in req) {
      bytesIn = req.complete ? (this.head?.contentLength ?? 0) : 0;
      bytesOut = this.bodyBytesOut;
    } else {
      const bytes = connectionBytes(req.socket);
      bytesIn = bytes.read;
      bytesOut = bytes.written;
    }
    let flag = this.flag === '' ? (problemOf(res)?.flag ?? '') : this.flag;
    if (flag === '' && !res.writableFinished) flag = accessFlags.downstreamClosed;
    this.#write(res.headersSent ? res.statusCode : 0, bytesIn, bytesOut, flag);
  }

  /** The upgraded client connection closed: writes the tunnel's line (bytes both ways over its whole life). */
  finishTunnel(socket: Socket): void {
    const bytes = connectionBytes(socket);
    this.#write(this.status, bytes.read, bytes.written, this.flag);
  }

  #write(status: number, bytesIn: number, bytesOut: number, flags: string): void {
    const req = this.#req;
    const head = this.head;
    const route = this.route;
    const headers = this.#log.wantsRequestHeaders;
    this.#log.write({
      time: this.#time,
      requestId: head?.requestId ?? this.requestId,
      clientIp: head?.clientIp ?? clientAddressOf(req.socket),
      method: req.method,
      host:
        head === undefined ? (headerOf(req.rawHeaders, 'host') ?? headerOf(req.rawHeaders, ':authority')) : head.host,
      path: req.url,
      protocol: protocolOf(req),
      status,
      bytesIn,
      bytesOut,
      durationMs: performance.now() - this.#startedAt,
      route: route?.name,
      service: route?.service,
      endpoint: this.endpoint,
      upstreamStatus: this.upstreamStatus,
      upstreamDurationMs: this.upstreamDurationMs,
      retries: this.retries,
      sticky: this.sticky,
      flags,
      ...(this.#res === undefined ? {} : { grpcStatus: grpcStatuses.get(this.#res) }),
      ...(headers
        ? { userAgent: headerOf(req.rawHeaders, 'user-agent'), referer: headerOf(req.rawHeaders, 'referer') }
        : {}),
    });
  }
}

/**
 * One L4 connection on a `tcp` or `tls-passthrough` listener, written when the client connection closes: bytes both
 * ways as the client's socket counted them, the SNI server name as `host` on `tls`.
 */
export class ConnectionAccessRecord {
  readonly #log: AccessLog;
  readonly #protocol: 'tcp' | 'tls';
  readonly #time = Date.now();
  readonly #startedAt = performance.now();
  /** The peer, or the client a PROXY protocol header named. */
  clientIp: string;
  host: string | undefined = undefined;
  service: string | undefined = undefined;
  endpoint: string | undefined = undefined;
  /** Connect attempts after the first (each on another endpoint). */
  retries = 0;
  flag = '';

  constructor(log: AccessLog, socket: Socket, protocol: 'tcp' | 'tls', clientIp: string) {
    this.#log = log;
    this.#protocol = protocol;
    this.clientIp = clientIp;
    socket.once('close', () => this.#finish(socket));
  }

  /** Sets the flag unless the outcome already has one (the first cause wins). */
  fail(flag: string): void {
    if (this.flag === '') this.flag = flag;
  }

  #finish(socket: Socket): void {
    this.#log.write({
      time: this.#time,
      requestId: undefined,
      clientIp: this.clientIp,
      method: undefined,
      host: this.host,
      path: undefined,
      protocol: this.#protocol,
      status: 0,
      bytesIn: socket.bytesRead,
      bytesOut: socket.bytesWritten,
      durationMs: performance.now() - this.#startedAt,
      route: undefined,
      service: this.service,
      endpoint: this.endpoint,
      upstreamStatus: undefined,
      upstreamDurationMs: undefined,
      retries: this.retries,
      sticky: false,
      flags: this.flag,
    });
  }
}

/** One ended UDP session: datagram payload bytes from and to the client over its life. */
export interface UdpSessionFacts {
  readonly startedAt: number;
  readonly clientAddress: string;
  readonly service: string;
  readonly endpoint: string;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

/** Writes the line of a UDP session that ended (idle, evicted, failed or closed); `flag` for a failed one. */
export function writeUdpSession(log: AccessLog, session: UdpSessionFacts, flag: string): void {
  const now = Date.now();
  log.write({
    time: session.startedAt,
    requestId: undefined,
    clientIp: session.clientAddress,
    method: undefined,
    host: undefined,
    path: undefined,
    protocol: 'udp',
    status: 0,
    bytesIn: session.bytesIn,
    bytesOut: session.bytesOut,
    durationMs: now - session.startedAt,
    route: undefined,
    service: session.service,
    endpoint: session.endpoint,
    upstreamStatus: undefined,
    upstreamDurationMs: undefined,
    retries: 0,
    sticky: false,
    flags: flag,
  });
}
