import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { pipeline, type Duplex } from 'node:stream';
import { proxyErrors, type ProxyError } from '../../core/errors.js';
import type { ListenerRuntime, ServiceRuntime } from '../runtime.js';
import { anyRequest, attemptPolicies } from '../upstream/attempt-policy.js';
import { UpstreamTries, type UpstreamAttempt } from '../upstream/attempt.js';
import { HttpAccessRecord } from '../downstream/access-records.js';
import type { RequestHead } from '../downstream/client-address.js';
import type { OpenTunnels } from './open-tunnels.js';
import { issueStickyKey, stickyChoice } from '../stickiness/sticky-choice.js';
import type { StickyClaim } from '../stickiness/sticky-keys.js';
import { BodyEnd, ResponseHeadReader, type ResponseHead } from './upgrade-response.js';
import { routeUpgrade, type RoutedUpgrade } from './upgrade-routing.js';
import { switchProblem } from './upgrade-check.js';
import { connectUpstream, writeRawProblem } from '../upstream/upstream-socket.js';

const ignoreError = (): void => undefined;

/** Listeners per event the tunnel's two pipelines add to each socket (each pipeline watches both ends). */
const tunnelListeners = 4;

/**
 * Proxies one upgrade request (the HTTP server's `upgrade` event) at the socket level: checks it like any request,
 * routes it (only a route with `websocket: true` takes it: 400 elsewhere, 404 when no route matches), and opens a
 * `WebSocketTunnel`. Frames are never parsed, so subprotocols and extensions (permessage-deflate) pass through.
 * Every outcome ends in a relayed handshake, a problem document or a closed socket; nothing is thrown.
 */
export function proxyUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  listener: ListenerRuntime,
  tunnels: OpenTunnels,
): void {
  // Node's HTTP server dropped its own listeners from the socket when it handed it over.
  socket.on('error', ignoreError);
  tunnels.add(socket);
  // The upgrade event hands over the connection itself: a net.Socket, or a TLSSocket behind an https listener.
  const connection = socket as Socket;
  const access =
    listener.accessLog === undefined ? undefined : new HttpAccessRecord(listener.accessLog, req, undefined);
  const routed = routeUpgrade(req, listener);
  if ('error' in routed) {
    if (access !== undefined) {
      access.requestId = routed.requestId;
      access.flag = routed.error.flag;
      access.status = routed.error.status;
      connection.once('close', () => access.finishTunnel(connection));
    }
    writeRawProblem(socket, routed.error, routed.requestId, routed.detail);
    return;
  }
  if (access !== undefined) {
    access.head = routed.forwarded;
    access.route = routed.route;
  }
  new WebSocketTunnel(req, connection, head, routed, access).start();
}

type Phase = 'connecting' | 'handshake' | 'refused' | 'open' | 'closed';

/**
 * One upgraded connection: connects to an endpoint (another one once if the connect fails, nothing having been sent),
 * writes the request head and the bytes that followed it, reads the upstream's response head, then either relays its
 * `101` (with a stickiness key when the client needs one) and pipes both ways, or relays the refusal whole and closes.
 * While open the tunnel counts in the endpoint's `inFlight` (least-connections sees it) and closes both sides after
 * `tunnelIdleMs` without a byte either way; a close or error on one side ends the other.
 */
class WebSocketTunnel {
  readonly #req: IncomingMessage;
  readonly #client: Socket;
  readonly #head: Buffer;
  readonly #routed: RoutedUpgrade;
  readonly #service: ServiceRuntime;
  readonly #forwarded: RequestHead;
  #phase: Phase = 'connecting';
  #upstream: Socket | undefined;
  #tries!: UpstreamTries;
  /** The try running now: its lease is released when the tunnel (or the try) ends. */
  #attempt: UpstreamAttempt | undefined;
  #claim: StickyClaim | undefined;
  #reader = new ResponseHeadReader();
  #body: BodyEnd | undefined;
  /** What the access log learns of this tunnel; undefined when it is off. */
  readonly #access: HttpAccessRecord | undefined;

  constructor(
    req: IncomingMessage,
    client: Socket,
    head: Buffer,
    routed: RoutedUpgrade,
    access: HttpAccessRecord | undefined,
  ) {
    this.#req = req;
    this.#client = client;
    this.#head = head;
    this.#routed = routed;
    this.#service = routed.service;
    this.#forwarded = routed.forwarded;
    this.#access = access;
  }

  start(): void {
    this.#client.once('close', this.#onClientClose);
    const service = this.#service;
    const sticky = service.sticky;
    let preferred;
    if (sticky !== undefined) {
      const choice = stickyChoice(service, sticky, this.#req.rawHeaders, this.#forwarded.clientIp, Date.now());
      preferred = choice.endpoint;
      this.#claim = choice.claim;
    }
    const hashKey = (): string | undefined =>
      service.hashKey?.(this.#req.rawHeaders, this.#forwarded, this.#routed.path);
    this.#tries = new UpstreamTries(service, attemptPolicies.websocket, { preferred, hashKey });
    this.#connect();
  }

  #connect(): void {
    const attempt = this.#tries.connect(false);
    if (attempt === undefined) {
      this.#fail(this.#tries.tries === 0 ? this.#tries.nobodyProblem() : proxyErrors.connectFailure);
      return;
    }
    this.#attempt = attempt;
    const endpoint = attempt.endpoint;
    this.#access?.attempt(endpoint.endpoint.id, attempt.sticky, attempt.retry);
    let upstream: ReturnType<typeof connectUpstream>;
    try {
      upstream = connectUpstream(endpoint.endpoint.url, this.#service.snapshot);
    } catch {
      // The service's TLS files could not be read: nothing was sent, so this counts as a connect failure.
      this.#onConnectFailure();
      return;
    }
    const socket = upstream.socket;
    this.#upstream = socket;
    socket.setTimeout(this.#service.snapshot.timeouts.connectMs);
    socket.on('timeout', this.#onUpstreamTimeout);
    socket.on('error', this.#onUpstreamError);
    socket.once(upstream.readyEvent, this.#onConnected);
  }

  readonly #onConnected = (): void => {
    const upstream = this.#upstream!;
    this.#phase = 'handshake';
    upstream.setTimeout(this.#routed.firstByteMs);
    upstream.on('data', this.#onHandshakeData);
    upstream.once('end', this.#onHandshakeEnd);
    upstream.write(requestHeadOf(this.#req.method ?? 'GET', this.#routed.path, this.#routed.headers));
    // Bytes the client sent after its upgrade request wait for a 101 that agrees (upgrade-check.ts): sent before it,
    // they would reach the instance as requests of their own, past routing.
  };

  readonly #onHandshakeData = (chunk: Buffer): void => {
    let input = chunk;
    for (;;) {
      const result = this.#reader.push(input);
      if (result === undefined) return;
      if (result instanceof Error) {
        this.#upstreamFailed(proxyErrors.upstreamReset);
        return;
      }
      const { head, rest } = result;
      if (head.status === 101) {
        // Only a 101 that agrees to what the client asked opens a tunnel (upgrade-check.ts); else 502 and close.
        const key = this.#req.headers['sec-websocket-key'];
        if (
          switchProblem(this.#req.headers.upgrade, typeof key === 'string' ? key : undefined, head.bytes) !== undefined
        )
          this.#upstreamFailed(proxyErrors.upstreamProtocolError);
        else this.#open(head, rest);
      } else if (head.status >= 200) this.#relayRefusal(head, rest);
      else {
        // Another informational response (103 Early Hints): relayed; the final answer follows.
        this.#client.write(head.bytes);
        if (rest.length > 0) {
          input = rest;
          continue;
        }
      }
      return;
    }
  };

  readonly #onHandshakeEnd = (): void => {
    if (this.#phase === 'handshake') this.#upstreamFailed(proxyErrors.upstreamReset);
  };

  /** The upstream switched protocols: relay its 101, then the tunnel is two pipelines and nothing more. */
  #open(head: ResponseHead, rest: Buffer): void {
    const upstream = this.#upstream!;
    const client = this.#client;
    this.#phase = 'open';
    upstream.pause();
    upstream.off('data', this.#onHandshakeData);
    upstream.off('end', this.#onHandshakeEnd);
    this.#recordOutcome(101);
    this.#answered(101);
    client.write(this.#withStickyKey(head.bytes));
    if (rest.length > 0) client.write(rest);
    if (this.#head.length > 0) upstream.write(this.#head);
    const idleMs = this.#service.snapshot.timeouts.tunnelIdleMs;
    // A socket's timer restarts on reads and writes alike, so either one sees traffic in both directions.
    upstream.setTimeout(idleMs);
    client.setTimeout(idleMs);
    client.on('timeout', this.#close);
    let ended = 0;
    const done = (error?: Error | null): void => {
      if (error) this.#close();
      if (++ended === 2) this.#close();
    };
    // Two pipelines add four 'close' (and 'error', 'end') listeners to a client socket that already has the HTTP
    // server's, the connection counter's and the drain's: the limit grows by what the tunnel adds, so Node's
    // MaxListenersExceededWarning keeps meaning a leak.
    client.setMaxListeners(client.getMaxListeners() + tunnelListeners);
    upstream.setMaxListeners(upstream.getMaxListeners() + tunnelListeners);
    pipeline(client, upstream, done);
    pipeline(upstream, client, done);
  }

  /** The instance refused the handshake (or ignored the upgrade): its response goes to the client as it is. */
  #relayRefusal(head: ResponseHead, rest: Buffer): void {
    const upstream = this.#upstream!;
    this.#phase = 'refused';
    this.#recordOutcome(head.status);
    this.#answered(head.status);
    upstream.setTimeout(this.#service.snapshot.timeouts.bodyIdleMs);
    upstream.off('data', this.#onHandshakeData);
    upstream.off('end', this.#onHandshakeEnd);
    this.#client.write(head.bytes);
    this.#body = new BodyEnd(head.framing);
    upstream.on('data', this.#onRefusalData);
    upstream.once('end', this.#onRefusalEnd);
    if (rest.length > 0) this.#onRefusalData(rest);
    else if (this.#body.done) this.#endRefusal();
  }

  readonly #onRefusalData = (chunk: Buffer): void => {
    const body = this.#body!;
    const taken = body.feed(chunk);
    const client = this.#client;
    const flowing = taken === 0 || client.write(taken === chunk.length ? chunk : chunk.subarray(0, taken));
    if (body.invalid) this.#close();
    else if (body.done) this.#endRefusal();
    else if (!flowing && this.#phase === 'refused') {
      // A slow client holds the upstream back instead of its body piling up here.
      const upstream = this.#upstream!;
      upstream.pause();
      client.once('drain', () => upstream.resume());
    }
  };

  readonly #onRefusalEnd = (): void => {
    // Without a length the body ends with the connection; with one, an early end is a truncation (never a fake end).
    const body = this.#body!;
    if (body.done || body.untilClose) this.#endRefusal();
    else this.#close();
  };

  #endRefusal(): void {
    if (this.#phase !== 'refused') return;
    this.#phase = 'closed';
    this.#release();
    this.#upstream?.destroy();
    const client = this.#client;
    client.end(() => client.destroy());
  }

  /** A 502–504 from the instance counts as a gateway error for outlier detection; anything else ends a streak. */
  #recordOutcome(status: number): void {
    this.#attempt?.answer(status);
  }

  /** The instance's final answer goes to the client as it is: noted for the access log. */
  #answered(status: number): void {
    const access = this.#access;
    if (access === undefined) return;
    access.answered(status);
    access.status = status;
  }

  /** The 101 head, with a stickiness key added when the client presented no valid key for this endpoint. */
  #withStickyKey(head: Buffer): Buffer {
    const sticky = this.#service.sticky;
    const endpoint = this.#attempt?.endpoint;
    if (sticky === undefined || sticky.config.mode !== 'key' || endpoint === undefined) return head;
    const headers: string[] = [];
    issueStickyKey(headers, endpoint.endpoint.id, sticky, this.#claim, Date.now());
    if (headers.length === 0) return head;
    let added = '';
    for (let i = 0; i < headers.length; i += 2) added += `${headers[i]}: ${headers[i + 1]}\r\n`;
    return Buffer.concat([head.subarray(0, head.length - 2), Buffer.from(`${added}\r\n`, 'latin1')]);
  }

  readonly #onUpstreamTimeout = (): void => {
    switch (this.#phase) {
      case 'connecting':
        this.#onConnectFailure();
        return;
      case 'handshake':
        this.#upstreamFailed(proxyErrors.upstreamTimeout);
        return;
      default:
        this.#close();
    }
  };

  readonly #onUpstreamError = (): void => {
    switch (this.#phase) {
      case 'connecting':
        this.#onConnectFailure();
        return;
      case 'handshake':
        this.#upstreamFailed(proxyErrors.upstreamReset);
        return;
      case 'refused':
        this.#close();
        return;
      default:
      // While open, the pipelines see the error and end the tunnel.
    }
  };

  /** Nothing reached the endpoint: report it, and try one other endpoint before answering 502. */
  #onConnectFailure(): void {
    const attempt = this.#releaseUpstream();
    if (attempt === undefined) return;
    if (this.#tries.failed(attempt, 'nothing-sent', anyRequest) === 'another') this.#connect();
    else this.#fail(proxyErrors.connectFailure);
  }

  /** The request was sent and no usable answer came back: no retry (the instance may have acted on it). */
  #upstreamFailed(error: ProxyError): void {
    this.#releaseUpstream()?.failed();
    this.#fail(error);
  }

  #fail(error: ProxyError): void {
    this.#phase = 'closed';
    if (this.#access !== undefined) {
      this.#access.flag = error.flag;
      this.#access.status = error.status;
    }
    writeRawProblem(this.#client, error, this.#forwarded.requestId);
  }

  /** Destroys the current upstream socket (its handlers stay, so late errors are absorbed) and releases its count. */
  #releaseUpstream(): UpstreamAttempt | undefined {
    const attempt = this.#release();
    const upstream = this.#upstream;
    this.#upstream = undefined;
    if (upstream !== undefined) {
      upstream.off('timeout', this.#onUpstreamTimeout);
      upstream.off('error', this.#onUpstreamError);
      upstream.on('error', ignoreError);
      upstream.destroy();
    }
    return attempt;
  }

  /** Ends the current try: its bytes are counted (the upstream socket's own counts) and its lease released. */
  #release(): UpstreamAttempt | undefined {
    const attempt = this.#attempt;
    if (attempt === undefined) return undefined;
    this.#attempt = undefined;
    const upstream = this.#upstream;
    if (upstream !== undefined) {
      attempt.sent(upstream.bytesWritten);
      attempt.received(upstream.bytesRead);
    }
    attempt.end();
    return attempt;
  }

  /** Ends the tunnel on both sides (idle timeout, an error, or both directions done). */
  readonly #close = (): void => {
    if (this.#phase === 'closed') return;
    this.#phase = 'closed';
    this.#release();
    this.#client.destroy();
    this.#upstream?.destroy();
  };

  readonly #onClientClose = (): void => {
    this.#access?.finishTunnel(this.#client);
    // An open tunnel is ended by its pipelines, which first deliver what the client sent last.
    if (this.#phase === 'closed' || this.#phase === 'open') return;
    this.#phase = 'closed';
    this.#releaseUpstream();
  };
}

/** The request head for the upstream: request line and the forwarded header block (values already validated). */
function requestHeadOf(method: string, path: string, headers: readonly string[]): string {
  let head = `${method} ${path} HTTP/1.1\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${head}\r\n`;
}
